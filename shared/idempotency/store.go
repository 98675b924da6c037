package idempotency

import (
	"context"
	"errors"
	"time"
)

// Status is the lifecycle state of a record, stored as the "status" attribute.
type Status string

// Record states.
const (
	StatusInProgress Status = "IN_PROGRESS" // claimed; the lease says until when
	StatusRetryable  Status = "RETRYABLE"   // an attempt failed and released the record
	StatusCompleted  Status = "COMPLETED"   // done; later claims are duplicates
)

// Record is one event's idempotency record. Field names follow the stored attribute
// names, which operators, reports and dashboards read.
type Record struct {
	Key              string            // attribute "id": source + ":" + provider event id
	Status           Status            // "status"
	LeaseToken       string            // "leaseToken"; empty when no lease is held
	LeaseExpiresAtMs int64             // "leaseExpiresAt", epoch milliseconds; 0 when no lease is held
	Attempts         int               // "attempts": acquired claims, this lifecycle
	ExpiresAt        int64             // "expiresAt", epoch seconds: the TTL attribute
	PayloadHash      string            // "payloadHash" of the first claim
	Result           []byte            // "result": a COMPLETED record's small result, if any
	Steps            map[string][]byte // "steps": completed step name → its result; may be nil when there are none
	ClaimedAtMs      int64             // "claimedAt", epoch milliseconds: when the latest attempt was claimed
	// Set by MarkDeadLettered when a copy of the event was accepted by the dead-letter
	// queue; a later ResetAttempts (a replay) is stamped in AttemptsResetAtMs, so a dead
	// letter waits in the queue while DeadLetteredAtMs > AttemptsResetAtMs.
	DeadLetteredAtMs  int64  // "deadLetteredAt", epoch milliseconds; 0 when never dead-lettered
	DeadLetterReason  string // "deadLetterReason": the dead letter's reason (envelope.Reason…)
	LastError         string // "lastError": the error that sent it there, truncated
	AttemptsResetAtMs int64  // "attemptsResetAt", epoch milliseconds of the latest ResetAttempts; 0 when none
}

// DeadLetterWaiting reports whether r says a copy of its event was dead-lettered and
// not replayed since (no ResetAttempts after the dead letter).
func (r *Record) DeadLetterWaiting() bool {
	return r.DeadLetteredAtMs > 0 && r.AttemptsResetAtMs < r.DeadLetteredAtMs
}

// Expired reports whether r is past its retention at now and so counts as absent.
func (r *Record) Expired(now time.Time) bool { return r.ExpiresAt < now.Unix() }

// LeaseLive reports whether r is held by a lease that has not run out at now.
func (r *Record) LeaseLive(now time.Time) bool {
	return r.LeaseToken != "" && now.UnixMilli() < r.LeaseExpiresAtMs
}

// Clone returns a deep copy of r. A record without steps gets nil Steps.
func (r Record) Clone() Record {
	if r.Result != nil {
		r.Result = append([]byte{}, r.Result...)
	}
	if len(r.Steps) == 0 {
		r.Steps = nil
		return r
	}
	steps := make(map[string][]byte, len(r.Steps))
	for k, v := range r.Steps {
		steps[k] = append([]byte{}, v...)
	}
	r.Steps = steps
	return r
}

// ClaimRequest asks for the record of Key. All times are the caller's: stores take
// no clock of their own.
type ClaimRequest struct {
	Key              string
	PayloadHash      string    // hash of the event body, compared with the stored one
	LeaseToken       string    // unique per claim; proves ownership to later writes
	LeaseExpiresAtMs int64     // epoch ms when the lease runs out (the invocation deadline)
	ExpiresAt        int64     // epoch s when the record may be deleted (the TTL)
	Now              time.Time // decides which leases are live and which records expired
}

// ClaimStatus says how a claim went.
type ClaimStatus int

// Claim outcomes.
const (
	ClaimAcquired  ClaimStatus = iota + 1 // the caller holds the lease and must act
	ClaimCompleted                        // a duplicate: the event was already done
	ClaimInFlight                         // another worker holds a live lease
)

func (s ClaimStatus) String() string {
	switch s {
	case ClaimAcquired:
		return "acquired"
	case ClaimCompleted:
		return "completed"
	case ClaimInFlight:
		return "in flight"
	}
	return "unknown"
}

// Claim is the answer to a claim.
type Claim struct {
	Status ClaimStatus
	// Record is the record after the claim when ClaimAcquired (Attempts includes this
	// one, Steps are the completed steps), and the stored record otherwise (Result
	// for ClaimCompleted, LeaseExpiresAtMs for ClaimInFlight).
	Record Record
	// PayloadMismatch is true when the stored payload hash differs from the request's:
	// the same key arrived with a different body.
	PayloadMismatch bool
}

// Store keeps idempotency records. Implementations: MemoryStore and
// dynamostore.Store; idempotencytest.Run checks both against this contract.
type Store interface {
	// Claim takes the record for req.Key if it is absent, expired, or neither
	// COMPLETED nor leased (see the package invariants).
	Claim(ctx context.Context, req ClaimRequest) (Claim, error)
	// Complete marks the record COMPLETED with result (nil for none), clears the
	// lease and sets expiresAt (epoch s). ErrLeaseLost unless token holds the lease.
	Complete(ctx context.Context, key, token string, result []byte, expiresAt int64) error
	// Release marks the record RETRYABLE after a failed attempt and clears the lease,
	// keeping attempts and steps. ErrLeaseLost unless token holds the lease.
	Release(ctx context.Context, key, token string) error
	// SaveStep records that step completed with result. ErrLeaseLost unless token
	// holds the lease.
	SaveStep(ctx context.Context, key, token, step string, result []byte) error
	// Get returns the record, or ErrNotFound when it is absent or expired at now.
	Get(ctx context.Context, key string, now time.Time) (Record, error)
	// ResetAttempts gives an exhausted event a fresh budget: attempts = 0, steps kept,
	// attemptsResetAt = now (epoch ms), which ends a dead letter's mark. It fails with ErrNotFound (absent or expired), ErrAlreadyCompleted or
	// ErrLeaseHeld (a live lease) and then changes nothing.
	ResetAttempts(ctx context.Context, key string, now time.Time) error
}

// DeadLetterMarker records in an event's idempotency record that a copy of it was
// accepted by the dead-letter queue, so that a key lookup answers "is it in the DLQ"
// without receiving from the queue. MemoryStore and dynamostore.Store have it.
type DeadLetterMarker interface {
	// MarkDeadLettered sets deadLetteredAt (now, epoch ms), deadLetterReason and
	// lastError on the record of key, whatever its status or lease, if the record
	// exists and is not expired at now. It never creates a record: an absent one
	// answers ErrNotFound and nothing is written.
	MarkDeadLettered(ctx context.Context, key, reason, lastErr string, now time.Time) error
}

// Errors of the Store contract. Match them with errors.Is.
var (
	// ErrLeaseLost: the caller's lease token no longer holds the record (the lease ran
	// out and another worker claimed it, or the record is gone). Nothing was written.
	// Retrying the same write cannot help; the other worker owns the event now.
	ErrLeaseLost = errors.New("idempotency lease lost")
	// ErrNotFound: no record, or only an expired one.
	ErrNotFound = errors.New("idempotency record not found")
	// ErrAlreadyCompleted: the record is COMPLETED.
	ErrAlreadyCompleted = errors.New("idempotency record already completed")
	// ErrLeaseHeld: a live lease holds the record.
	ErrLeaseHeld = errors.New("idempotency record leased by a live worker")
	// ErrUnavailable: the store is throttled, failing or unreachable. Transient:
	// retrying later can help.
	ErrUnavailable = errors.New("idempotency store unavailable")
)

// ClaimOutcome says what a claim must answer for the stored record old (nil when
// absent) at now: ClaimCompleted, ClaimInFlight or ClaimAcquired. fresh is true when old counts as
// absent (none, or expired), so that the claim starts a new lifecycle. Adapters use it
// to read the record a failed conditional write returns.
func ClaimOutcome(old *Record, now time.Time) (status ClaimStatus, fresh bool) {
	switch {
	case old == nil || old.Expired(now):
		return ClaimAcquired, true
	case old.Status == StatusCompleted:
		return ClaimCompleted, false
	case old.LeaseLive(now):
		return ClaimInFlight, false
	}
	return ClaimAcquired, false
}
