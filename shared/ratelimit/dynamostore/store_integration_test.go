//go:build integration

package dynamostore_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/ratelimit/dynamostore"
	"github.com/tenaz/tenaz/shared/ratelimit/ratelimittest"
	"github.com/tenaz/tenaz/shared/retry"
)

// newTable creates a table with a unique name on moto; its client counts its calls.
// Requests go concurrently: moto's DynamoDB applies each item request atomically
// (infra/moto/server.py), as DynamoDB does, so the races race for real.
func newTable(t *testing.T) awstest.Table {
	t.Helper()
	return awstest.NewTable(t, awstest.Config(t), "rate", dynamostore.CreateTable)
}

func TestDynamoStoreContract(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		tb := newTable(t)
		api := &awstest.Throttled{ItemAPI: tb.Client}
		return ratelimittest.Harness{Store: dynamostore.New(tb.Name, api), Throttle: api.Throttle}
	})
}

// TestDynamoCallsPerDelivery counts the DynamoDB requests behind each answer of a
// Limiter and prints them with their price from infra/bench/prices.json: one
// UpdateItem (1 WRU) per allowed delivery, one per refused attempt of a container
// that had not yet seen the window full, none for further refusals of that window
// in that container, and none at all for an unlimited route.
func TestDynamoCallsPerDelivery(t *testing.T) {
	tb := newTable(t)
	clock := testclock.New(ratelimittest.T0.Add(100 * time.Millisecond))
	store := dynamostore.New(tb.Name, tb.Client)
	container := func() *ratelimit.Limiter { return ratelimit.New(store, ratelimit.Settings{Now: clock.Now}) }
	l := container()
	ctx := context.Background()
	wru := wruPrice(t)
	want := func(what string, takes int, update int64) {
		t.Helper()
		u, total := tb.Calls.Of("UpdateItem"), tb.Calls.Total()
		tb.Calls.Reset()
		if u != update || total != update {
			t.Fatalf("%s: %d UpdateItem and %d calls in all, want %d UpdateItem and nothing else", what, u, total, update)
		}
		per := float64(u) / float64(takes)
		t.Logf("%-62s %5d takes %5d UpdateItem  %.2f WRU/take  $%.3f per million takes", what, takes, u, per, per*wru)
	}
	take := func(l *ratelimit.Limiter, perSecond int, allowed bool) {
		t.Helper()
		d, err := l.Take(ctx, "crm.example.com", perSecond)
		if err != nil || d.Allowed != allowed {
			t.Fatalf("take = %+v, %v; want allowed %v", d, err, allowed)
		}
	}
	tb.Calls.Reset()
	for range 1000 {
		take(l, 0, true)
	}
	want("unlimited route (ratePerSecond 0): every delivery", 1000, 0)
	for range 5 {
		take(l, 5, true)
	}
	want("limited route (5/s): allowed deliveries", 5, 5)
	take(l, 5, false)
	want("refused: first attempt in a container this window", 1, 1)
	for range 100 {
		take(l, 5, false)
	}
	want("refused: further attempts in that container this window", 100, 0)
	for range 4 {
		take(container(), 5, false)
	}
	want("refused: first attempt of 4 other containers this window", 4, 4)
	clock.Advance(time.Second)
	take(l, 5, true)
	want("next window: allowed again", 1, 1)
	t.Logf("prices: $%.3f per million write request units (infra/bench/prices.json); each window item is under 1 KB, so one write is 1 WRU", wru)
}

// TestDynamoCallsSaturatedRoute measures a route with more records waiting than its
// limit lets through: containers keep taking, deferring each refused record, for
// several windows. Each window costs the limit's writes plus one refused write per
// container that tried after the window filled, whatever the backlog:
// (limit + containers) / limit writes per delivery.
func TestDynamoCallsSaturatedRoute(t *testing.T) {
	const (
		limit      = 10
		containers = 5
		tries      = 20 // records each container tries per window, all beyond its share
		windows    = 10
	)
	tb := newTable(t)
	clock := testclock.New(ratelimittest.T0)
	store := dynamostore.New(tb.Name, tb.Client)
	ls := make([]*ratelimit.Limiter, containers)
	for i := range ls {
		ls[i] = ratelimit.New(store, ratelimit.Settings{Now: clock.Now})
	}
	ctx := context.Background()
	tb.Calls.Reset()
	delivered, refused := 0, 0
	for range windows {
		for range tries {
			for _, l := range ls {
				clock.Advance(time.Second / (tries * containers * 2)) // stay in the window
				d, err := l.Take(ctx, "crm.example.com", limit)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed {
					delivered++
				} else {
					refused++
				}
			}
		}
		clock.Set(clock.Now().Truncate(time.Second).Add(time.Second))
	}
	writes := tb.Calls.Of("UpdateItem")
	if delivered != limit*windows || writes != int64((limit+containers)*windows) || tb.Calls.Total() != writes {
		t.Fatalf("%d delivered, %d refused, %d UpdateItem, %d calls in all; want %d delivered and %d UpdateItem only",
			delivered, refused, writes, tb.Calls.Total(), limit*windows, (limit+containers)*windows)
	}
	per := float64(writes) / float64(delivered)
	t.Logf("saturated route, %d/s, %d containers, %d windows: %d delivered, %d refused, %d UpdateItem: %.2f WRU per delivery, $%.3f per million deliveries",
		limit, containers, windows, delivered, refused, writes, per, per*wruPrice(t))
}

// wruPrice reads the on-demand write price from the repository's price table.
func wruPrice(t *testing.T) float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "infra", "bench", "prices.json"))
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Prices map[string]struct {
			USD float64 `json:"usd"`
		} `json:"prices"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatal(err)
	}
	p, ok := table.Prices["dynamodbWriteUnitsPerMillion"]
	if !ok || p.USD <= 0 {
		t.Fatal("infra/bench/prices.json has no dynamodbWriteUnitsPerMillion")
	}
	return p.USD
}

// TestDynamoStoredAttributes checks the item operators and TTL rely on, by reading
// it raw, and that it stays under 1 KB (one write request unit).
func TestDynamoStoredAttributes(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	store := dynamostore.New(tb.Name, tb.Client)
	sec := ratelimittest.T0.Unix()
	for range 2 {
		if ok, err := store.Take(ctx, "crm.example.com", sec, 3); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	out, err := tb.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tb.Name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"name": &types.AttributeValueMemberS{Value: "rate#crm.example.com#" + strconv.FormatInt(sec, 10)}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "rate#crm.example.com#" + strconv.FormatInt(sec, 10), "taken": "2", "expiresAt": strconv.FormatInt(sec+61, 10)}
	size := 0
	for attr, v := range out.Item {
		var got string
		switch a := v.(type) {
		case *types.AttributeValueMemberS:
			got = a.Value
		case *types.AttributeValueMemberN:
			got = a.Value
		default:
			t.Errorf("attribute %s is %T", attr, v)
		}
		if got != want[attr] {
			t.Errorf("attribute %s = %q, want %q", attr, got, want[attr])
		}
		size += len(attr) + len(got) // an upper bound of DynamoDB's size for these types
	}
	if len(out.Item) != len(want) {
		t.Errorf("item %v, want exactly the attributes %v", out.Item, want)
	}
	if size >= 1024 {
		t.Errorf("item is about %d bytes, want under 1 KB", size)
	}
}

// TestDynamoSharesTheBreakerTable takes from windows in a table made as the breaker
// table, beside a paused breaker, and checks that each sees only its own items.
func TestDynamoSharesTheBreakerTable(t *testing.T) {
	tb := awstest.NewTable(t, awstest.Config(t), "breaker", breakerstore.CreateTable)
	ctx := context.Background()
	breakers := breakerstore.New(tb.Name, tb.Client, breakerstore.Options{})
	if _, won, err := breakers.Pause(ctx, "crm.example.com", ratelimittest.T0); err != nil || !won {
		t.Fatal(won, err)
	}
	limiter := ratelimit.New(dynamostore.New(tb.Name, tb.Client), ratelimit.Settings{Now: func() time.Time { return ratelimittest.T0 }})
	for _, allowed := range []bool{true, false} {
		if d, err := limiter.Take(ctx, "crm.example.com", 1); err != nil || d.Allowed != allowed {
			t.Fatalf("take = %+v, %v; want allowed %v", d, err, allowed)
		}
	}
	rec, err := breakers.Load(ctx, "crm.example.com")
	if err != nil || !rec.Paused() || rec.Generation != 1 {
		t.Fatalf("the breaker beside the window: %+v, %v", rec, err)
	}
	awstest.WantTTL(t, tb.Client, tb.Name, dynamostore.AttrExpiresAt)
}

func TestDynamoCreateTableEnablesTTL(t *testing.T) {
	tb := newTable(t)
	awstest.WantTTL(t, tb.Client, tb.Name, "expiresAt")
}

func TestDynamoMissingTableIsPermanent(t *testing.T) {
	store := dynamostore.New(awstest.Name(t, "absent"), dynamodb.NewFromConfig(awstest.Config(t)))
	d, err := ratelimit.New(store, ratelimit.Settings{}).Take(context.Background(), "crm", 5)
	var nf *types.ResourceNotFoundException
	if !retry.IsPermanent(err) || !errors.As(err, &nf) || errors.Is(err, ratelimit.ErrUnavailable) || d.Allowed {
		t.Fatalf("take on a missing table = %+v, %v; want a permanent ResourceNotFoundException", d, err)
	}
}

func TestDynamoForeignItemIsPermanent(t *testing.T) {
	tb := newTable(t)
	ctx := context.Background()
	sec := ratelimittest.T0.Unix()
	_, err := tb.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tb.Name), Item: map[string]types.AttributeValue{
		"name": &types.AttributeValueMemberS{Value: ratelimit.WindowName("crm", sec)}, "taken": &types.AttributeValueMemberS{Value: "many"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(tb.Name, tb.Client)
	if _, err := store.Taken(ctx, "crm", sec); !retry.IsPermanent(err) {
		t.Fatalf("taken of a foreign item = %v, want permanent", err)
	}
}
