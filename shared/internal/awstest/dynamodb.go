package awstest

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tenaz/tenaz/shared/ddb"
)

// Table is one test's DynamoDB table on the emulator.
type Table struct {
	Name string
	// Client reaches the emulator; Calls counts every operation it makes.
	Client *dynamodb.Client
	Calls  *Calls
}

// NewTable creates a table named Name(t, prefix) with create (a store package's
// CreateTable, given a minute for the table to become active), through a client on
// cfg that counts its calls.
func NewTable(t testing.TB, cfg aws.Config, prefix string, create func(ctx context.Context, api ddb.TableAPI, table string, maxWait time.Duration) error) Table {
	t.Helper()
	calls := &Calls{}
	tb := Table{Name: Name(t, prefix), Client: dynamodb.NewFromConfig(cfg, dynamodb.WithAPIOptions(calls.APIOption)), Calls: calls}
	if err := create(context.Background(), tb.Client, tb.Name, time.Minute); err != nil {
		t.Fatal(err)
	}
	return tb
}

// WantTTL fails the test unless table has TTL turned on for the attribute attr.
func WantTTL(t testing.TB, client *dynamodb.Client, table, attr string) {
	t.Helper()
	out, err := client.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TimeToLiveDescription
	if d == nil || aws.ToString(d.AttributeName) != attr || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("TTL = %+v, want enabled on %s", d, attr)
	}
}

// Calls counts the operations an SDK client makes, by operation name ("GetItem"):
// once per call, however often the SDK retries it. It is safe for concurrent use.
type Calls struct {
	mu  sync.Mutex
	ops map[string]int64
}

// APIOption adds the counter to a client's middleware stack, in the Initialize step
// (before the retryer). Pass it in the client's APIOptions, as
// dynamodb.WithAPIOptions(c.APIOption).
func (c *Calls) APIOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("tenazCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			if c.ops == nil {
				c.ops = map[string]int64{}
			}
			c.ops[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// Of returns how many op calls were made since the start or the last Reset.
func (c *Calls) Of(op string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[op]
}

// Total returns how many calls of any operation were made since the start or the
// last Reset.
func (c *Calls) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.ops {
		n += v
	}
	return n
}

// Reset sets every count back to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.ops)
}

// ItemAPI is the item calls of a DynamoDB client that Tenaz's stores make; each
// store's API interface is a part of it.
type ItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Throttled passes item calls to ItemAPI, except while throttling: then it fails each
// with the error DynamoDB gives when a table's throughput is exceeded. It is safe for
// concurrent use.
type Throttled struct {
	ItemAPI
	on atomic.Bool
}

// Throttle turns throttling on or off.
func (c *Throttled) Throttle(on bool) { c.on.Store(on) }

var errThroughput = &types.ProvisionedThroughputExceededException{Message: aws.String("The level of configured provisioned throughput for the table was exceeded.")}

// GetItem implements ItemAPI.
func (c *Throttled) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if c.on.Load() {
		return nil, errThroughput
	}
	return c.ItemAPI.GetItem(ctx, in, opts...)
}

// PutItem implements ItemAPI.
func (c *Throttled) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if c.on.Load() {
		return nil, errThroughput
	}
	return c.ItemAPI.PutItem(ctx, in, opts...)
}

// UpdateItem implements ItemAPI.
func (c *Throttled) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if c.on.Load() {
		return nil, errThroughput
	}
	return c.ItemAPI.UpdateItem(ctx, in, opts...)
}

// DynamoDBError wraps err the way the SDK returns a DynamoDB error: an operation
// error around an HTTP response error with the given status.
func DynamoDBError(status int, err error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
		RequestID:     "req-1",
	}}
}
