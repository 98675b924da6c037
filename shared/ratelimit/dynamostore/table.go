package dynamostore

import (
	"context"
	"time"

	"github.com/tenaz/tenaz/shared/ddb"
	"github.com/tenaz/tenaz/shared/ratelimit"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI = ddb.TableAPI

// CreateTable creates an on-demand table shaped like the breaker table (partition
// key "name", string; TTL on "expiresAt"), waits up to maxWait for it to become
// active, and turns on TTL. It is for tests; local runs and deployed stacks share
// the breaker table.
func CreateTable(ctx context.Context, api TableAPI, table string, maxWait time.Duration) error {
	return ddb.CreateTable(ctx, api, table, AttrName, AttrExpiresAt, maxWait, ratelimit.ErrUnavailable)
}
