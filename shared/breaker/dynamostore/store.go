package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/breaker"
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client has it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// DefaultRetention is how long an idle breaker's item is kept after the last time
// it mattered (the end of its failure window, open period or probe lease): 24 hours.
const DefaultRetention = 24 * time.Hour

// Options tune a Store. The zero value is the default.
type Options struct {
	// Retention is how long an item is kept after the last time it mattered; then
	// DynamoDB's TTL may delete it (expiresAt). Default DefaultRetention, 24 hours.
	Retention time.Duration
	// EventuallyConsistentLoad makes Load read eventually consistent, at half the read
	// cost, adding DynamoDB's replication lag (usually well under a second) to the
	// Breaker's cache TTL. Default false: Load reads strongly consistent. Writes and
	// the records they answer are always consistent.
	EventuallyConsistentLoad bool
}

// Store is a breaker.Store on one DynamoDB table. It is safe for concurrent use.
type Store struct {
	table string
	api   API
	opts  Options
}

var _ breaker.Store = (*Store)(nil)

// New returns a Store on table through api.
func New(table string, api API, opts Options) *Store {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	return &Store{table: table, api: api, opts: opts}
}

// Expression attribute names, shared by every expression.
var names = map[string]string{
	"#name":  AttrName,
	"#state": AttrState,
	"#gen":   AttrGeneration,
	"#ws":    AttrWindowStartMs,
	"#fail":  AttrFailures,
	"#open":  AttrOpenedAtMs,
	"#until": AttrOpenUntilMs,
	"#probe": AttrProbeUntilMs,
	"#exp":   AttrExpiresAt,
	"#pause": AttrPaused,
	"#pat":   AttrPausedAtMs,
}

// pick returns the subset of names an expression uses (DynamoDB rejects unused ones).
func pick(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = names[k]
	}
	return m
}

// expiresAt is the TTL of an item that matters until last.
func (s *Store) expiresAt(last time.Time) types.AttributeValue {
	return n(last.Add(s.opts.Retention).Unix())
}

// Load implements breaker.Store: one GetItem.
func (s *Store) Load(ctx context.Context, name string) (breaker.Record, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(name),
		ConsistentRead: aws.Bool(!s.opts.EventuallyConsistentLoad),
	})
	if err != nil {
		return breaker.Record{}, fmt.Errorf("load breaker %s: %w", name, classify(err))
	}
	return decode(name, out.Item)
}

// update makes one conditional UpdateItem. It answers the item after it and true, or,
// when the condition failed, the stored item and false.
func (s *Store) update(ctx context.Context, op, name string, in *dynamodb.UpdateItemInput) (breaker.Record, bool, error) {
	in.TableName = aws.String(s.table)
	in.Key = key(name)
	in.ReturnValues = types.ReturnValueAllNew
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	out, err := s.api.UpdateItem(ctx, in)
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			rec, derr := decode(name, ccf.Item)
			return rec, false, derr
		}
		return breaker.Record{}, false, fmt.Errorf("%s %s: %w", op, name, classify(err))
	}
	rec, err := decode(name, out.Attributes)
	return rec, err == nil, err
}

// maxFailureRounds bounds the rounds of RecordFailure: a round is a failed count in
// the running window followed by a failed start of a new one, which happens only
// when another caller started that window in between; the next round then counts in
// it.
const maxFailureRounds = 4

// RecordFailure implements breaker.Store. Counting in the running window is one
// UpdateItem (ADD); the first failure of a window costs a second one, a conditional
// SET that starts it.
func (s *Store) RecordFailure(ctx context.Context, name string, gen uint64, now time.Time, window time.Duration) (breaker.Record, bool, error) {
	cutoff := n(now.UnixMilli() - window.Milliseconds())
	stale := func(r breaker.Record) bool { return r.State != breaker.Closed || r.Generation != gen || r.Paused() }
	for range maxFailureRounds {
		rec, won, err := s.update(ctx, "count failure in", name, &dynamodb.UpdateItemInput{
			ConditionExpression:      aws.String("#gen = :gen AND #state = :closed AND #ws > :cutoff AND attribute_not_exists(#pause)"),
			UpdateExpression:         aws.String("ADD #fail :one SET #exp = :exp"),
			ExpressionAttributeNames: pick("#gen", "#state", "#ws", "#fail", "#exp", "#pause"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":gen": u(gen), ":closed": str(breaker.Closed.String()), ":cutoff": cutoff,
				":one": n(1), ":exp": s.expiresAt(now.Add(window)),
			},
		})
		if err != nil || won || stale(rec) {
			return rec, won, err
		}
		// The window has passed, or there is no item yet: start a new window.
		cond := "#gen = :gen AND #state = :closed AND (attribute_not_exists(#ws) OR #ws <= :cutoff) AND attribute_not_exists(#pause)"
		attrs := pick("#gen", "#state", "#ws", "#fail", "#exp", "#pause")
		if gen == 0 {
			cond = "attribute_not_exists(#name) OR (" + cond + ")"
			attrs["#name"] = AttrName
		}
		rec, won, err = s.update(ctx, "start failure window of", name, &dynamodb.UpdateItemInput{
			ConditionExpression:      aws.String(cond),
			UpdateExpression:         aws.String("SET #state = :closed, #gen = :gen, #ws = :now, #fail = :one, #exp = :exp"),
			ExpressionAttributeNames: attrs,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":gen": u(gen), ":closed": str(breaker.Closed.String()), ":cutoff": cutoff,
				":now": ms(now), ":one": n(1), ":exp": s.expiresAt(now.Add(window)),
			},
		})
		if err != nil || won || stale(rec) {
			return rec, won, err
		}
	}
	return breaker.Record{}, false, fmt.Errorf("record failure %s: %w: the failure window kept changing", name, breaker.ErrUnavailable)
}

// Open implements breaker.Store: one conditional UpdateItem.
func (s *Store) Open(ctx context.Context, name string, from uint64, now, until time.Time) (breaker.Record, bool, error) {
	return s.update(ctx, "open", name, &dynamodb.UpdateItemInput{
		ConditionExpression:      aws.String("#gen = :gen AND (#state = :closed OR #state = :half)"),
		UpdateExpression:         aws.String("SET #state = :open, #gen = :next, #open = :now, #until = :until, #exp = :exp REMOVE #probe"),
		ExpressionAttributeNames: pick("#gen", "#state", "#open", "#until", "#exp", "#probe"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gen": u(from), ":next": u(from + 1), ":closed": str(breaker.Closed.String()), ":half": str(breaker.HalfOpen.String()),
			":open": str(breaker.Open.String()), ":now": ms(now), ":until": ms(until), ":exp": s.expiresAt(until),
		},
	})
}

// AcquireProbe implements breaker.Store: one conditional UpdateItem.
func (s *Store) AcquireProbe(ctx context.Context, name string, gen uint64, now, leaseUntil time.Time) (breaker.Record, bool, error) {
	return s.update(ctx, "acquire probe lease of", name, &dynamodb.UpdateItemInput{
		ConditionExpression:      aws.String("#gen = :gen AND ((#state = :open AND #until <= :now) OR (#state = :half AND #probe <= :now)) AND attribute_not_exists(#pause)"),
		UpdateExpression:         aws.String("SET #state = :half, #gen = :next, #probe = :lease, #exp = :exp"),
		ExpressionAttributeNames: pick("#gen", "#state", "#until", "#probe", "#exp", "#pause"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gen": u(gen), ":next": u(gen + 1), ":open": str(breaker.Open.String()), ":half": str(breaker.HalfOpen.String()),
			":now": ms(now), ":lease": ms(leaseUntil), ":exp": s.expiresAt(leaseUntil),
		},
	})
}

// ReleaseProbe implements breaker.Store: one conditional UpdateItem.
func (s *Store) ReleaseProbe(ctx context.Context, name string, gen uint64, now time.Time) (breaker.Record, bool, error) {
	return s.update(ctx, "release probe lease of", name, &dynamodb.UpdateItemInput{
		ConditionExpression:      aws.String("#gen = :gen AND #state = :half"),
		UpdateExpression:         aws.String("SET #gen = :next, #probe = :now"),
		ExpressionAttributeNames: pick("#gen", "#state", "#probe"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gen": u(gen), ":next": u(gen + 1), ":half": str(breaker.HalfOpen.String()), ":now": ms(now),
		},
	})
}

// Close implements breaker.Store: one conditional UpdateItem.
func (s *Store) Close(ctx context.Context, name string, gen uint64, now time.Time) (breaker.Record, bool, error) {
	return s.update(ctx, "close", name, &dynamodb.UpdateItemInput{
		ConditionExpression:      aws.String("#gen = :gen AND #state = :half"),
		UpdateExpression:         aws.String("SET #state = :closed, #gen = :next, #exp = :exp REMOVE #ws, #fail, #open, #until, #probe"),
		ExpressionAttributeNames: pick("#gen", "#state", "#exp", "#ws", "#fail", "#open", "#until", "#probe"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":gen": u(gen), ":next": u(gen + 1), ":half": str(breaker.HalfOpen.String()),
			":closed": str(breaker.Closed.String()), ":exp": s.expiresAt(now),
		},
	})
}

// Pause implements breaker.Store: one conditional UpdateItem, which creates the item
// when there is none. It removes expiresAt, so that TTL never ends a pause.
func (s *Store) Pause(ctx context.Context, name string, now time.Time) (breaker.Record, bool, error) {
	return s.update(ctx, "pause", name, &dynamodb.UpdateItemInput{
		ConditionExpression:      aws.String("attribute_not_exists(#pause)"),
		UpdateExpression:         aws.String("SET #pause = :true, #pat = :now, #state = if_not_exists(#state, :closed) ADD #gen :one REMOVE #exp"),
		ExpressionAttributeNames: pick("#pause", "#pat", "#state", "#gen", "#exp"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":true": &types.AttributeValueMemberBOOL{Value: true}, ":now": ms(now),
			":closed": str(breaker.Closed.String()), ":one": n(1),
		},
	})
}

// Resume implements breaker.Store: one conditional UpdateItem. The item expires as a
// closed breaker's does, Retention after now.
func (s *Store) Resume(ctx context.Context, name string, now time.Time) (breaker.Record, bool, error) {
	return s.update(ctx, "resume", name, &dynamodb.UpdateItemInput{
		ConditionExpression:      aws.String("attribute_exists(#pause)"),
		UpdateExpression:         aws.String("SET #state = :closed, #gen = #gen + :one, #exp = :exp REMOVE #pause, #pat, #ws, #fail, #open, #until, #probe"),
		ExpressionAttributeNames: pick("#pause", "#pat", "#state", "#gen", "#exp", "#ws", "#fail", "#open", "#until", "#probe"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":closed": str(breaker.Closed.String()), ":one": n(1), ":exp": s.expiresAt(now),
		},
	})
}
