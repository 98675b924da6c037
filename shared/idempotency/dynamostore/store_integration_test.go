//go:build integration

package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/idempotency/idempotencytest"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/retry"
)

// newTable creates a table with a unique name on moto; its client counts its calls.
func newTable(t *testing.T) awstest.Table {
	t.Helper()
	return awstest.NewTable(t, awstest.Config(t), "idem", dynamostore.CreateTable)
}

func TestDynamoStoreContract(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotencytest.Harness {
		tb := newTable(t)
		api := &awstest.Throttled{ItemAPI: tb.Client}
		return idempotencytest.Harness{
			Store:    dynamostore.New(tb.Name, api, dynamostore.Options{}),
			Throttle: api.Throttle,
			Calls:    func() int { return int(tb.Calls.Total()) },
		}
	})
}

// TestDynamoStoredAttributes checks the attribute names and types operators and reports
// rely on, by reading the raw item.
func TestDynamoStoredAttributes(t *testing.T) {
	tb := newTable(t)
	client, table := tb.Client, tb.Name
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
		"expiresAt": "N", "payloadHash": "S", "steps": "M", "claimedAt": "N",
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
	if v := item["claimedAt"].(*types.AttributeValueMemberN).Value; v != itoa(now.UnixMilli()) {
		t.Errorf("claimedAt = %s, want epoch ms %d", v, now.UnixMilli())
	}
	if err := store.MarkDeadLettered(ctx, req.Key, "permanent", "HTTP 410", now); err != nil {
		t.Fatal(err)
	}
	item = raw()
	for name, typ := range map[string]string{"deadLetteredAt": "N", "deadLetterReason": "S", "lastError": "S"} {
		if got := attrType(item[name]); got != typ {
			t.Errorf("attribute %s is %s, want %s", name, got, typ)
		}
	}
	if v := item["deadLetteredAt"].(*types.AttributeValueMemberN).Value; v != itoa(now.UnixMilli()) {
		t.Errorf("deadLetteredAt = %s, want epoch ms %d", v, now.UnixMilli())
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
	tb := newTable(t)
	awstest.WantTTL(t, tb.Client, tb.Name, "expiresAt")
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
