package idempotency

import (
	"context"
	"fmt"
	"time"

	"github.com/tenaz/tenaz/shared/internal/memguard"
)

// MemoryStore is a Store in process memory, with the same semantics as the DynamoDB
// store: conditional claims, leases and expiry judged by the times the caller passes,
// attempts, steps. It is safe for concurrent use. It is the embedded default for local
// runs and the fast backend of unit tests; its records die with the process.
type MemoryStore struct {
	guard memguard.Guard // its one lock and the fault hook
	items map[string]*Record
}

var (
	_ Store            = (*MemoryStore)(nil)
	_ DeadLetterMarker = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{items: map[string]*Record{}}
}

// SetFault installs a hook called before every operation with its name ("claim",
// "complete", "release", "saveStep", "get", "resetAttempts", "markDeadLettered") and key. A non-nil error
// fails the operation, changing nothing, and is returned wrapped; return one that
// wraps ErrUnavailable to act like a throttled or failing backend. nil removes the
// hook.
func (m *MemoryStore) SetFault(f func(op, key string) error) { m.guard.SetFault(f) }

// begin locks the store and runs the fault hook. On error the store is unlocked.
func (m *MemoryStore) begin(ctx context.Context, op, key string) error {
	return m.guard.Begin(ctx, op, key, nil)
}

// live returns the record of key unless it is absent or expired at now.
func (m *MemoryStore) live(key string, now time.Time) *Record {
	r := m.items[key]
	if r == nil || r.Expired(now) {
		return nil
	}
	return r
}

// Claim implements Store.
func (m *MemoryStore) Claim(ctx context.Context, req ClaimRequest) (Claim, error) {
	if err := validateClaim(req); err != nil {
		return Claim{}, err
	}
	if err := m.begin(ctx, "claim", req.Key); err != nil {
		return Claim{}, err
	}
	defer m.guard.Unlock()
	old := m.items[req.Key]
	status, fresh := ClaimOutcome(old, req.Now)
	if status != ClaimAcquired {
		return Claim{Status: status, Record: old.Clone(), PayloadMismatch: old.PayloadHash != req.PayloadHash}, nil
	}
	r := old
	if fresh {
		r = &Record{Key: req.Key, PayloadHash: req.PayloadHash}
		m.items[req.Key] = r
	}
	r.Status = StatusInProgress
	r.LeaseToken = req.LeaseToken
	r.LeaseExpiresAtMs = req.LeaseExpiresAtMs
	r.ExpiresAt = req.ExpiresAt
	r.ClaimedAtMs = req.Now.UnixMilli()
	r.Attempts++
	return Claim{Status: ClaimAcquired, Record: r.Clone(), PayloadMismatch: r.PayloadHash != req.PayloadHash}, nil
}

// owned returns the record of key if token holds its lease.
func (m *MemoryStore) owned(key, token string) (*Record, bool) {
	r := m.items[key]
	if r == nil || token == "" || r.LeaseToken != token {
		return nil, false
	}
	return r, true
}

// Complete implements Store.
func (m *MemoryStore) Complete(ctx context.Context, key, token string, result []byte, expiresAt int64) error {
	if err := m.begin(ctx, "complete", key); err != nil {
		return err
	}
	defer m.guard.Unlock()
	r, ok := m.owned(key, token)
	if !ok {
		return fmt.Errorf("complete %s: %w", key, ErrLeaseLost)
	}
	r.Status = StatusCompleted
	r.LeaseToken, r.LeaseExpiresAtMs = "", 0
	r.ExpiresAt = expiresAt
	r.Result = nil
	if len(result) > 0 {
		r.Result = append([]byte{}, result...)
	}
	return nil
}

// Release implements Store.
func (m *MemoryStore) Release(ctx context.Context, key, token string) error {
	if err := m.begin(ctx, "release", key); err != nil {
		return err
	}
	defer m.guard.Unlock()
	r, ok := m.owned(key, token)
	if !ok {
		return fmt.Errorf("release %s: %w", key, ErrLeaseLost)
	}
	r.Status = StatusRetryable
	r.LeaseToken, r.LeaseExpiresAtMs = "", 0
	return nil
}

// SaveStep implements Store.
func (m *MemoryStore) SaveStep(ctx context.Context, key, token, step string, result []byte) error {
	if step == "" {
		return permanentf("save step of %s: empty step name", key)
	}
	if err := m.begin(ctx, "saveStep", key); err != nil {
		return err
	}
	defer m.guard.Unlock()
	r, ok := m.owned(key, token)
	if !ok {
		return fmt.Errorf("save step %q of %s: %w", step, key, ErrLeaseLost)
	}
	if r.Steps == nil {
		r.Steps = map[string][]byte{}
	}
	r.Steps[step] = append([]byte{}, result...)
	return nil
}

// Get implements Store.
func (m *MemoryStore) Get(ctx context.Context, key string, now time.Time) (Record, error) {
	if err := m.begin(ctx, "get", key); err != nil {
		return Record{}, err
	}
	defer m.guard.Unlock()
	r := m.live(key, now)
	if r == nil {
		return Record{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return r.Clone(), nil
}

// ResetAttempts implements Store.
func (m *MemoryStore) ResetAttempts(ctx context.Context, key string, now time.Time) error {
	if err := m.begin(ctx, "resetAttempts", key); err != nil {
		return err
	}
	defer m.guard.Unlock()
	r := m.live(key, now)
	if err := ResetRefusal(r, now); err != nil {
		return fmt.Errorf("reset attempts of %s: %w", key, err)
	}
	r.Attempts = 0
	r.AttemptsResetAtMs = now.UnixMilli()
	return nil
}

// MarkDeadLettered implements DeadLetterMarker.
func (m *MemoryStore) MarkDeadLettered(ctx context.Context, key, reason, lastErr string, now time.Time) error {
	if err := m.begin(ctx, "markDeadLettered", key); err != nil {
		return err
	}
	defer m.guard.Unlock()
	r := m.live(key, now)
	if r == nil {
		return fmt.Errorf("mark %s dead-lettered: %w", key, ErrNotFound)
	}
	r.DeadLetteredAtMs = now.UnixMilli()
	r.DeadLetterReason = reason
	r.LastError = lastErr
	return nil
}

// ResetRefusal says why ResetAttempts must refuse the stored record r (nil when
// absent) at now: ErrNotFound, ErrAlreadyCompleted, ErrLeaseHeld, or nil when the
// reset may go ahead. Adapters use it to read the record a failed condition returns.
func ResetRefusal(r *Record, now time.Time) error {
	switch {
	case r == nil || r.Expired(now):
		return ErrNotFound
	case r.Status == StatusCompleted:
		return ErrAlreadyCompleted
	case r.LeaseLive(now):
		return ErrLeaseHeld
	}
	return nil
}
