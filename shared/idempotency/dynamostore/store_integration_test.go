//go:build integration

package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/idempotency/idempotencytest"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/retry"
)

// countCalls adds SDK middleware that counts operations (not retries) made by the
// client.
func countCalls(n *atomic.Int64) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// throttling answers every call with the error DynamoDB gives when a table's
// throughput is exceeded, while on.
type throttling struct {
	dynamostore.API
	on atomic.Bool
}

var errThroughput = &types.ProvisionedThroughputExceededException{Message: aws.String("The level of configured provisioned throughput for the table was exceeded.")}

func (c *throttling) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if c.on.Load() {
		return nil, errThroughput
	}
	return c.API.UpdateItem(ctx, in, opts...)
}

func (c *throttling) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if c.on.Load() {
		return nil, errThroughput
	}
	return c.API.PutItem(ctx, in, opts...)
}

func (c *throttling) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if c.on.Load() {
		return nil, errThroughput
	}
	return c.API.GetItem(ctx, in, opts...)
}

// newTable creates a table with a unique name and returns a client that counts its
// calls.
func newTable(t *testing.T) (*dynamodb.Client, string, *atomic.Int64) {
	t.Helper()
	calls := &atomic.Int64{}
	client := dynamodb.NewFromConfig(awstest.Config(t), countCalls(calls))
	table := awstest.Name(t, "idem")
	if err := dynamostore.CreateTable(context.Background(), client, table, time.Minute); err != nil {
		t.Fatal(err)
	}
	return client, table, calls
}

func TestDynamoStoreContract(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotencytest.Harness {
		client, table, calls := newTable(t)
		api := &throttling{API: client}
		return idempotencytest.Harness{
			Store:    dynamostore.New(table, api, dynamostore.Options{}),
			Throttle: api.on.Store,
			Calls:    func() int { return int(calls.Load()) },
		}
	})
}

// TestDynamoStoredAttributes checks the attribute names and types operators and reports
// rely on, by reading the raw item.
func TestDynamoStoredAttributes(t *testing.T) {
	client, table, _ := newTable(t)
	ctx := context.Background()
	store := dynamostore.New(table, client, dynamostore.Options{})
	now := idempotencytest.T0
	req := idempotencytest.Request("stripe:evt_attrs", "tok", now)
	if _, err := store.Claim(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveStep(ctx, req.Key, "tok", "crm", []byte("u1")); err != nil {
		t.Fatal(err)
	}
	raw := func() map[string]types.AttributeValue {
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: req.Key}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	item := raw()
	want := map[string]string{
		"id": "S", "status": "S", "leaseToken": "S", "leaseExpiresAt": "N", "attempts": "N",
		"expiresAt": "N", "payloadHash": "S", "steps": "M",
	}
	for name, typ := range want {
		if got := attrType(item[name]); got != typ {
			t.Errorf("attribute %s is %s, want %s", name, got, typ)
		}
	}
	if v := item["leaseExpiresAt"].(*types.AttributeValueMemberN).Value; v != itoa(req.LeaseExpiresAtMs) {
		t.Errorf("leaseExpiresAt = %s, want epoch ms %d", v, req.LeaseExpiresAtMs)
	}
	if v := item["expiresAt"].(*types.AttributeValueMemberN).Value; v != itoa(req.ExpiresAt) {
		t.Errorf("expiresAt = %s, want epoch s %d", v, req.ExpiresAt)
	}
	if err := store.Complete(ctx, req.Key, "tok", []byte("r"), req.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	item = raw()
	if _, ok := item["leaseToken"]; ok {
		t.Error("a completed record keeps its lease token")
	}
	if _, ok := item["leaseExpiresAt"]; ok {
		t.Error("a completed record keeps its lease expiry")
	}
	if got := attrType(item["result"]); got != "B" {
		t.Errorf("result is %s, want B", got)
	}
	if got := item["status"].(*types.AttributeValueMemberS).Value; got != "COMPLETED" {
		t.Errorf("status = %s", got)
	}
}

func TestDynamoCreateTableEnablesTTL(t *testing.T) {
	client, table, _ := newTable(t)
	out, err := client.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TimeToLiveDescription
	if d == nil || aws.ToString(d.AttributeName) != "expiresAt" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("TTL = %+v, want enabled on expiresAt", d)
	}
}

func TestDynamoMissingTableIsPermanent(t *testing.T) {
	client := dynamodb.NewFromConfig(awstest.Config(t))
	store := dynamostore.New(awstest.Name(t, "absent"), client, dynamostore.Options{})
	_, err := store.Claim(context.Background(), idempotencytest.Request("k", "tok", idempotencytest.T0))
	var nf *types.ResourceNotFoundException
	if !retry.IsPermanent(err) || !errors.As(err, &nf) || errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("claim on a missing table = %v, want a permanent ResourceNotFoundException", err)
	}
}

func attrType(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberM:
		return "M"
	case nil:
		return "missing"
	}
	return "other"
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
