package dynamostore

import (
	"context"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/ddb"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI = ddb.TableAPI

// CreateTable creates an on-demand table for breakers (partition key "name", string), waits up to maxWait for it
// to become active, and turns on TTL on "expiresAt". It is for local runs and tests;
// deployed stacks get the same table from the template.
func CreateTable(ctx context.Context, api TableAPI, table string, maxWait time.Duration) error {
	return ddb.CreateTable(ctx, api, table, AttrName, AttrExpiresAt, maxWait, breaker.ErrUnavailable)
}
