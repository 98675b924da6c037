package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
)

// Attribute names of a record. They are a contract: operators, the DLQ report and
// dashboards read them.
const (
	AttrID               = "id"               // S, the partition key: the idempotency key
	AttrStatus           = "status"           // S: IN_PROGRESS, RETRYABLE or COMPLETED
	AttrLeaseToken       = "leaseToken"       // S, only while leased
	AttrLeaseExpiresAtMs = "leaseExpiresAt"   // N, epoch milliseconds, only while leased
	AttrAttempts         = "attempts"         // N, attempts made in this lifecycle
	AttrExpiresAt        = "expiresAt"        // N, epoch seconds: the TTL attribute
	AttrPayloadHash      = "payloadHash"      // S, hash of the first claim's body
	AttrResult           = "result"           // B, a completed record's result, if any
	AttrSteps            = "steps"            // M, step name → B result
	AttrClaimedAt        = "claimedAt"        // N, epoch milliseconds of the latest acquired claim
	AttrDeadLetteredAt   = "deadLetteredAt"   // N, epoch milliseconds, once a copy was dead-lettered
	AttrDeadLetterReason = "deadLetterReason" // S, that dead letter's reason
	AttrLastError        = "lastError"        // S, the error that sent it there
	AttrAttemptsResetAt  = "attemptsResetAt"  // N, epoch milliseconds of the latest ResetAttempts (a replay)
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client has it.
type API interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Options tune a Store. The zero value is the default.
type Options struct {
	// EventuallyConsistentGet makes Get read eventually consistent, at half the read
	// cost, for reports that tolerate a second of staleness. Default false: Get reads
	// strongly consistent. Claims and other writes are always consistent.
	EventuallyConsistentGet bool
}

// Store is an idempotency.Store on one DynamoDB table. It is safe for concurrent use.
type Store struct {
	table string
	api   API
	opts  Options
}

var (
	_ idempotency.Store            = (*Store)(nil)
	_ idempotency.DeadLetterMarker = (*Store)(nil)
)

// New returns a Store on table through api.
func New(table string, api API, opts Options) *Store {
	return &Store{table: table, api: api, opts: opts}
}

// Table is the name of the store's table.
func (st *Store) Table() string { return st.table }

// Expression attribute names, shared by every expression.
var names = map[string]string{
	"#id":       AttrID,
	"#status":   AttrStatus,
	"#token":    AttrLeaseToken,
	"#lease":    AttrLeaseExpiresAtMs,
	"#att":      AttrAttempts,
	"#exp":      AttrExpiresAt,
	"#hash":     AttrPayloadHash,
	"#result":   AttrResult,
	"#steps":    AttrSteps,
	"#claimed":  AttrClaimedAt,
	"#dlAt":     AttrDeadLetteredAt,
	"#dlReason": AttrDeadLetterReason,
	"#lastErr":  AttrLastError,
	"#resetAt":  AttrAttemptsResetAt,
}

// pick returns the subset of names an expression uses (DynamoDB rejects unused ones).
func pick(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = names[k]
	}
	return m
}

// The names of each hot-path call, built once: the SDK only reads its inputs, so one
// map serves every call.
var (
	claimNames    = pick("#id", "#status", "#token", "#lease", "#exp", "#hash", "#steps", "#att", "#claimed")
	completeNames = pick("#status", "#exp", "#token", "#lease", "#result")
	releaseNames  = pick("#status", "#token", "#lease")
)

// Constant attribute values, shared by every call for the same reason.
var (
	valInProgress types.AttributeValue = &types.AttributeValueMemberS{Value: string(idempotency.StatusInProgress)}
	valCompleted  types.AttributeValue = &types.AttributeValueMemberS{Value: string(idempotency.StatusCompleted)}
	valRetryable  types.AttributeValue = &types.AttributeValueMemberS{Value: string(idempotency.StatusRetryable)}
	valOne        types.AttributeValue = &types.AttributeValueMemberN{Value: "1"}
	valZero       types.AttributeValue = &types.AttributeValueMemberN{Value: "0"}
	valNoSteps    types.AttributeValue = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
)

const (
	// claimUpdate keeps the first payload hash and the steps of earlier attempts, and
	// counts the attempt atomically.
	claimUpdate = "SET #status = :inProgress, #token = :token, #lease = :lease, #exp = :exp, #claimed = :nowMs, " +
		"#hash = if_not_exists(#hash, :hash), #steps = if_not_exists(#steps, :noSteps) ADD #att :one"
	// claimCondition: absent, or live (not expired) and neither completed nor leased.
	// An expired record fails it on purpose: it is replaced whole, see putFresh.
	claimCondition = "attribute_not_exists(#id) OR " +
		"(#exp >= :nowS AND #status <> :completed AND (attribute_not_exists(#lease) OR #lease <= :nowMs))"
	// freshCondition: the record is still absent or expired.
	freshCondition = "attribute_not_exists(#id) OR #exp < :nowS"
	// resetCondition: live, not completed, not leased.
	resetCondition = "attribute_exists(#id) AND #exp >= :nowS AND #status <> :completed AND " +
		"(attribute_not_exists(#lease) OR #lease <= :nowMs)"
	ownedCondition = "#token = :token"
	// liveCondition: present and not expired.
	liveCondition = "attribute_exists(#id) AND #exp >= :nowS"

	completeUpdate       = "SET #status = :completed, #exp = :exp REMOVE #token, #lease, #result"
	completeResultUpdate = "SET #status = :completed, #exp = :exp, #result = :result REMOVE #token, #lease"
	releaseUpdate        = "SET #status = :retryable REMOVE #token, #lease"
	saveStepUpdate       = "SET #steps.#step = :result"
	resetUpdate          = "SET #att = :zero, #resetAt = :nowMs"
	markDeadUpdate       = "SET #dlAt = :nowMs, #dlReason = :reason, #lastErr = :lastErr"
)

// The expressions as the SDK takes them (pointers), shared by every call.
var (
	exprClaimUpdate, exprClaimCondition = claimUpdate, claimCondition
	exprOwned                           = ownedCondition
	exprComplete, exprCompleteResult    = completeUpdate, completeResultUpdate
	exprRelease, exprSaveStep           = releaseUpdate, saveStepUpdate
)

// maxClaimRounds bounds the claim loop; more rounds mean heavy contention on one key
// (records replaced and released between our calls), and the caller should retry later.
const maxClaimRounds = 3

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrID: s(k)}
}

// Claim implements idempotency.Store.
func (st *Store) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	if err := idempotency.ValidateClaim(req); err != nil {
		return idempotency.Claim{}, err
	}
	for range maxClaimRounds {
		out, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                &st.table,
			Key:                      key(req.Key),
			UpdateExpression:         &exprClaimUpdate,
			ConditionExpression:      &exprClaimCondition,
			ExpressionAttributeNames: claimNames,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":inProgress": valInProgress,
				":completed":  valCompleted,
				":token":      s(req.LeaseToken),
				":lease":      n(req.LeaseExpiresAtMs),
				":exp":        n(req.ExpiresAt),
				":hash":       s(req.PayloadHash),
				":noSteps":    valNoSteps,
				":one":        valOne,
				":nowS":       n(req.Now.Unix()),
				":nowMs":      n(req.Now.UnixMilli()),
			},
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			rec, err := decode(out.Attributes)
			if err != nil {
				return idempotency.Claim{}, fmt.Errorf("claim %s: %w", req.Key, err)
			}
			return idempotency.Claim{Status: idempotency.ClaimAcquired, Record: rec, PayloadMismatch: rec.PayloadHash != req.PayloadHash}, nil
		}
		old, failed, err := conditionFailed(err)
		if !failed {
			return idempotency.Claim{}, fmt.Errorf("claim %s: %w", req.Key, err)
		}
		c, done, err := st.answer(ctx, req, old)
		if done || err != nil {
			return c, err
		}
	}
	return idempotency.Claim{}, fmt.Errorf("claim %s: %w: the record kept changing under %d claim rounds", req.Key, idempotency.ErrUnavailable, maxClaimRounds)
}

// answer turns the record a failed claim condition returned into the claim's answer.
// done=false means the record is claimable after all (it changed between our calls):
// claim again.
func (st *Store) answer(ctx context.Context, req idempotency.ClaimRequest, item map[string]types.AttributeValue) (idempotency.Claim, bool, error) {
	if len(item) == 0 {
		return idempotency.Claim{}, true, fmt.Errorf("claim %s: %w: condition failed without the stored record", req.Key, idempotency.ErrUnavailable)
	}
	if _, ok := item[AttrStatus]; !ok {
		// Only the key: a record caught half-written by a concurrent claim (an emulator
		// that is not atomic can show this). Never a reason to give the event up: the
		// caller retries later.
		return idempotency.Claim{}, true, fmt.Errorf("claim %s: %w: stored record has no status yet", req.Key, idempotency.ErrUnavailable)
	}
	old, err := decode(item)
	if err != nil {
		return idempotency.Claim{}, true, fmt.Errorf("claim %s: %w", req.Key, err)
	}
	status, fresh := idempotency.ClaimOutcome(&old, req.Now)
	switch {
	case fresh:
		return st.putFresh(ctx, req)
	case status != idempotency.ClaimAcquired:
		return idempotency.Claim{Status: status, Record: old, PayloadMismatch: old.PayloadHash != req.PayloadHash}, true, nil
	}
	return idempotency.Claim{}, false, nil
}

// putFresh replaces an expired record with a new lifecycle, if it is still expired.
func (st *Store) putFresh(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, bool, error) {
	rec := idempotency.Record{
		Key:              req.Key,
		Status:           idempotency.StatusInProgress,
		LeaseToken:       req.LeaseToken,
		LeaseExpiresAtMs: req.LeaseExpiresAtMs,
		Attempts:         1,
		ExpiresAt:        req.ExpiresAt,
		ClaimedAtMs:      req.Now.UnixMilli(),
		PayloadHash:      req.PayloadHash,
		Steps:            map[string][]byte{},
	}
	_, err := st.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(st.table),
		Item:                                encode(rec),
		ConditionExpression:                 aws.String(freshCondition),
		ExpressionAttributeNames:            pick("#id", "#exp"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":nowS": n(req.Now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return idempotency.Claim{Status: idempotency.ClaimAcquired, Record: rec}, true, nil
	}
	item, failed, err := conditionFailed(err)
	if !failed {
		return idempotency.Claim{}, true, fmt.Errorf("claim %s: replace expired record: %w", req.Key, err)
	}
	// Another worker replaced it first: answer from its record, or claim again.
	old, err := decode(item)
	if err != nil || len(item) == 0 {
		return idempotency.Claim{}, true, fmt.Errorf("claim %s: replace expired record: %w: condition failed without a readable record (%v)", req.Key, idempotency.ErrUnavailable, err)
	}
	if status, fresh := idempotency.ClaimOutcome(&old, req.Now); !fresh && status != idempotency.ClaimAcquired {
		return idempotency.Claim{Status: status, Record: old, PayloadMismatch: old.PayloadHash != req.PayloadHash}, true, nil
	}
	return idempotency.Claim{}, false, nil
}

// Complete implements idempotency.Store.
func (st *Store) Complete(ctx context.Context, k, token string, result []byte, expiresAt int64) error {
	update := &exprComplete
	values := map[string]types.AttributeValue{":completed": valCompleted, ":exp": n(expiresAt), ":token": s(token)}
	if len(result) > 0 {
		update = &exprCompleteResult
		values[":result"] = &types.AttributeValueMemberB{Value: result}
	}
	return st.owned(ctx, "complete", "", k, token, update, completeNames, values)
}

// Release implements idempotency.Store.
func (st *Store) Release(ctx context.Context, k, token string) error {
	return st.owned(ctx, "release", "", k, token, &exprRelease, releaseNames,
		map[string]types.AttributeValue{":retryable": valRetryable, ":token": s(token)})
}

// SaveStep implements idempotency.Store.
func (st *Store) SaveStep(ctx context.Context, k, token, step string, result []byte) error {
	if step == "" {
		return retry.Permanent(fmt.Errorf("save step %q of %s: empty step name", step, k))
	}
	if result == nil {
		result = []byte{}
	}
	ns := pick("#steps", "#token")
	ns["#step"] = step
	return st.owned(ctx, "save step", step, k, token, &exprSaveStep, ns,
		map[string]types.AttributeValue{":result": &types.AttributeValueMemberB{Value: result}, ":token": s(token)})
}

// owned runs an update conditional on the caller's lease token: ns names #token and
// values holds :token. op (and step, for a step) name the call in errors.
func (st *Store) owned(ctx context.Context, op, step, k, token string, update *string, ns map[string]string, values map[string]types.AttributeValue) error {
	if token == "" {
		return fmt.Errorf("%s: %w", what(op, step, k), idempotency.ErrLeaseLost)
	}
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       key(k),
		UpdateExpression:          update,
		ConditionExpression:       &exprOwned,
		ExpressionAttributeNames:  ns,
		ExpressionAttributeValues: values,
	})
	if err == nil {
		return nil
	}
	if _, failed, err := conditionFailed(err); !failed {
		return fmt.Errorf("%s: %w", what(op, step, k), err)
	}
	return fmt.Errorf("%s: %w", what(op, step, k), idempotency.ErrLeaseLost)
}

// what names a call on the record of k in an error: "complete stripe:evt_1",
// "save step "crm" of stripe:evt_1".
func what(op, step, k string) string {
	if op == "save step" {
		return fmt.Sprintf("save step %q of %s", step, k)
	}
	return op + " " + k
}

// Get implements idempotency.Store.
func (st *Store) Get(ctx context.Context, k string, now time.Time) (idempotency.Record, error) {
	out, err := st.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(st.table),
		Key:            key(k),
		ConsistentRead: aws.Bool(!st.opts.EventuallyConsistentGet),
	})
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("get %s: %w", k, classify(err))
	}
	if len(out.Item) == 0 {
		return idempotency.Record{}, fmt.Errorf("get %s: %w", k, idempotency.ErrNotFound)
	}
	rec, err := decode(out.Item)
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("get %s: %w", k, err)
	}
	if rec.Expired(now) {
		return idempotency.Record{}, fmt.Errorf("get %s: %w", k, idempotency.ErrNotFound)
	}
	return rec, nil
}

// ResetAttempts implements idempotency.Store.
func (st *Store) ResetAttempts(ctx context.Context, k string, now time.Time) error {
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(st.table),
		Key:                      key(k),
		UpdateExpression:         aws.String(resetUpdate),
		ConditionExpression:      aws.String(resetCondition),
		ExpressionAttributeNames: pick("#att", "#resetAt", "#id", "#exp", "#status", "#lease"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero":      valZero,
			":completed": valCompleted,
			":nowS":      n(now.Unix()),
			":nowMs":     n(now.UnixMilli()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	item, failed, err := conditionFailed(err)
	if !failed {
		return fmt.Errorf("reset attempts of %s: %w", k, err)
	}
	var old *idempotency.Record
	if len(item) > 0 {
		rec, err := decode(item)
		if err != nil {
			return fmt.Errorf("reset attempts of %s: %w", k, err)
		}
		old = &rec
	}
	if why := idempotency.ResetRefusal(old, now); why != nil {
		return fmt.Errorf("reset attempts of %s: %w", k, why)
	}
	return fmt.Errorf("reset attempts of %s: %w: the record changed during the reset", k, idempotency.ErrUnavailable)
}

// MarkDeadLettered implements idempotency.DeadLetterMarker: one conditional
// UpdateItem that never creates an item.
func (st *Store) MarkDeadLettered(ctx context.Context, k, reason, lastErr string, now time.Time) error {
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(st.table),
		Key:                      key(k),
		UpdateExpression:         aws.String(markDeadUpdate),
		ConditionExpression:      aws.String(liveCondition),
		ExpressionAttributeNames: pick("#id", "#exp", "#dlAt", "#dlReason", "#lastErr"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":nowMs":   n(now.UnixMilli()),
			":nowS":    n(now.Unix()),
			":reason":  s(reason),
			":lastErr": s(lastErr),
		},
	})
	if err == nil {
		return nil
	}
	if _, failed, err := conditionFailed(err); !failed {
		return fmt.Errorf("mark %s dead-lettered: %w", k, err)
	}
	return fmt.Errorf("mark %s dead-lettered: %w", k, idempotency.ErrNotFound)
}

// conditionFailed reports whether err is a failed condition and returns the stored
// item DynamoDB sent back with it. Any other error comes back classified.
func conditionFailed(err error) (map[string]types.AttributeValue, bool, error) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true, nil
	}
	return nil, false, classify(err)
}
