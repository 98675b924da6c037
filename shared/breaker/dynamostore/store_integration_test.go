//go:build integration

package dynamostore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/breaker/breakertest"
	"github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/retry"
)

// newTable creates a table with a unique name on moto; its client counts its calls.
// The client sends one request at a time (awstest.OneAtATime): the contract's races
// then test the store's conditions, not moto's locking.
func newTable(t *testing.T) awstest.Table {
	t.Helper()
	return awstest.NewTable(t, awstest.OneAtATime(awstest.Config(t)), "breaker", dynamostore.CreateTable)
}

func TestDynamoStoreContract(t *testing.T) {
	breakertest.Run(t, func(t *testing.T) breakertest.Harness {
		tb := newTable(t)
		api := &awstest.Throttled{ItemAPI: tb.Client}
		return breakertest.Harness{Store: dynamostore.New(tb.Name, api, dynamostore.Options{}), Throttle: api.Throttle}
	})
}

// TestDynamoCallsPerOperation counts the DynamoDB requests behind each path of the
// breaker: none on the happy path beyond one read per cache TTL, one per failure
// counted, two for the first failure of a window.
func TestDynamoCallsPerOperation(t *testing.T) {
	tb := newTable(t)
	clock := testclock.New(breakertest.T0)
	b := breaker.New(dynamostore.New(tb.Name, tb.Client, dynamostore.Options{}), breaker.Settings{Now: clock.Now})
	ctx := context.Background()
	want := func(what string, get, update int64) {
		t.Helper()
		g, u := tb.Calls.Of("GetItem"), tb.Calls.Of("UpdateItem")
		tb.Calls.Reset()
		if g != get || u != update {
			t.Fatalf("%s: %d GetItem and %d UpdateItem, want %d and %d", what, g, u, get, update)
		}
	}
	tb.Calls.Reset()
	for range 1000 {
		tk, err := b.Allow(ctx, "crm")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Report(ctx, tk, true); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Millisecond / 2)
	}
	want("1000 successful calls within one cache TTL", 1, 0)
	fail := func() {
		t.Helper()
		tk, err := b.Allow(ctx, "crm")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Report(ctx, tk, false); err != nil {
			t.Fatal(err)
		}
	}
	fail()
	want("first failure of a window", 0, 2)
	fail()
	want("second failure", 0, 1)
	fail()
	fail()
	want("third and fourth failures", 0, 2)
	fail()
	want("fifth failure, which opens the breaker", 0, 2)
	if _, err := b.Allow(ctx, "crm"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("allow after the fifth failure = %v", err)
	}
	want("a refused call", 0, 0)
}

// TestDynamoStoredAttributes checks the attribute names and types operators and
// reports rely on, by reading the raw item.
func TestDynamoStoredAttributes(t *testing.T) {
	tb := newTable(t)
	client, table := tb.Client, tb.Name
	ctx := context.Background()
	store := dynamostore.New(table, client, dynamostore.Options{Retention: time.Hour})
	t0 := breakertest.T0
	until := t0.Add(time.Minute)
	raw := func() map[string]types.AttributeValue {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"name": &types.AttributeValueMemberS{Value: "crm"}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	check := func(item map[string]types.AttributeValue, want map[string]string) {
		t.Helper()
		for name, v := range want {
			var got string
			switch a := item[name].(type) {
			case *types.AttributeValueMemberS:
				got = "S:" + a.Value
			case *types.AttributeValueMemberN:
				got = "N:" + a.Value
			case nil:
				got = "missing"
			default:
				got = "other"
			}
			if got != v {
				t.Errorf("attribute %s = %s, want %s", name, got, v)
			}
		}
	}
	num := func(v int64) string { return "N:" + strconv.FormatInt(v, 10) }
	if _, _, err := store.RecordFailure(ctx, "crm", 0, t0, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	check(raw(), map[string]string{
		"name": "S:crm", "state": "S:closed", "generation": "N:0", "windowStartMs": num(t0.UnixMilli()),
		"failures": "N:1", "expiresAt": num(t0.Add(30*time.Second + time.Hour).Unix()),
	})
	if _, won, err := store.Open(ctx, "crm", 0, t0, until); err != nil || !won {
		t.Fatal(won, err)
	}
	check(raw(), map[string]string{
		"state": "S:open", "generation": "N:1", "openedAtMs": num(t0.UnixMilli()), "openUntilMs": num(until.UnixMilli()),
		"failures": "N:1", "expiresAt": num(until.Add(time.Hour).Unix()), "probeUntilMs": "missing",
	})
	lease := until.Add(30 * time.Second)
	if _, won, err := store.AcquireProbe(ctx, "crm", 1, until, lease); err != nil || !won {
		t.Fatal(won, err)
	}
	check(raw(), map[string]string{
		"state": "S:half-open", "generation": "N:2", "probeUntilMs": num(lease.UnixMilli()), "expiresAt": num(lease.Add(time.Hour).Unix()),
	})
	if _, won, err := store.Close(ctx, "crm", 2, until); err != nil || !won {
		t.Fatal(won, err)
	}
	check(raw(), map[string]string{
		"state": "S:closed", "generation": "N:3", "windowStartMs": "missing", "failures": "missing", "openedAtMs": "missing",
		"openUntilMs": "missing", "probeUntilMs": "missing", "expiresAt": num(until.Add(time.Hour).Unix()),
	})
	// A pause has no expiry: TTL must never end it. A resume gives the item one again.
	if _, won, err := store.Pause(ctx, "crm", lease); err != nil || !won {
		t.Fatal(won, err)
	}
	item := raw()
	check(item, map[string]string{"state": "S:closed", "generation": "N:4", "pausedAtMs": num(lease.UnixMilli()), "expiresAt": "missing"})
	if p, ok := item["paused"].(*types.AttributeValueMemberBOOL); !ok || !p.Value {
		t.Errorf("attribute paused = %#v, want BOOL true", item["paused"])
	}
	end := lease.Add(time.Hour)
	if _, won, err := store.Resume(ctx, "crm", end); err != nil || !won {
		t.Fatal(won, err)
	}
	check(raw(), map[string]string{"state": "S:closed", "generation": "N:5", "pausedAtMs": "missing", "expiresAt": num(end.Add(time.Hour).Unix())})
	if _, ok := raw()["paused"]; ok {
		t.Error("attribute paused kept after the resume")
	}
}

func TestDynamoCreateTableEnablesTTL(t *testing.T) {
	tb := newTable(t)
	awstest.WantTTL(t, tb.Client, tb.Name, "expiresAt")
}

func TestDynamoMissingTableIsPermanent(t *testing.T) {
	client := dynamodb.NewFromConfig(awstest.Config(t))
	store := dynamostore.New(awstest.Name(t, "absent"), client, dynamostore.Options{})
	_, err := store.Load(context.Background(), "crm")
	var nf *types.ResourceNotFoundException
	if !retry.IsPermanent(err) || !errors.As(err, &nf) || errors.Is(err, breaker.ErrUnavailable) {
		t.Fatalf("load on a missing table = %v, want a permanent ResourceNotFoundException", err)
	}
	_, _, err = store.RecordFailure(context.Background(), "crm", 0, breakertest.T0, time.Second)
	if !retry.IsPermanent(err) || !errors.As(err, &nf) {
		t.Fatalf("record failure on a missing table = %v, want a permanent ResourceNotFoundException", err)
	}
}

func TestDynamoForeignItemIsPermanent(t *testing.T) {
	tb := newTable(t)
	client, table := tb.Client, tb.Name
	ctx := context.Background()
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"name": &types.AttributeValueMemberS{Value: "crm"}, "state": &types.AttributeValueMemberS{Value: "ajar"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(table, client, dynamostore.Options{})
	if _, err := store.Load(ctx, "crm"); !retry.IsPermanent(err) {
		t.Fatalf("load of a foreign item = %v, want permanent", err)
	}
	if _, _, err := store.Close(ctx, "crm", 0, breakertest.T0); !retry.IsPermanent(err) {
		t.Fatalf("refused close on a foreign item = %v, want permanent", err)
	}
}
