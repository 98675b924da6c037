package dynamostore

import (
	"github.com/tenaz/tenaz/shared/ddb"
	"github.com/tenaz/tenaz/shared/idempotency"
)

// classify is ddb.Classify with idempotency.ErrUnavailable as the transient mark: a
// throttle, a server fault or no answer at all is transient; the context's own error
// comes back unchanged; any other DynamoDB answer is permanent.
func classify(err error) error { return ddb.Classify(err, idempotency.ErrUnavailable) }
