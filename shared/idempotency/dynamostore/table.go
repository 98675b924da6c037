package dynamostore

import (
	"context"
	"time"

	"github.com/tenaz/tenaz/shared/ddb"
	"github.com/tenaz/tenaz/shared/idempotency"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI = ddb.TableAPI

// CreateTable creates an on-demand table for records (partition key "id", string), waits up to maxWait for it
// to become active, and turns on TTL on "expiresAt". It is for local runs and tests;
// deployed stacks get the same table from the template.
func CreateTable(ctx context.Context, api TableAPI, table string, maxWait time.Duration) error {
	return ddb.CreateTable(ctx, api, table, AttrID, AttrExpiresAt, maxWait, idempotency.ErrUnavailable)
}
