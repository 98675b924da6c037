package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
)

// Getter reads one idempotency record (idempotency.Store has it).
type Getter interface {
	Get(ctx context.Context, key string, now time.Time) (idempotency.Record, error)
}

// State is where an event is.
type State string

// States.
const (
	Unknown      State = "unknown"      // no record: never seen, or past its retention
	InProgress   State = "inProgress"   // a worker holds a live lease on it
	Retrying     State = "retrying"     // attempts failed; it waits in the queue for the next one
	Completed    State = "completed"    // done; later copies are duplicates
	DeadLettered State = "deadLettered" // a copy waits in the dead-letter queue
	Replayed     State = "replayed"     // dead-lettered, then replayed with a fresh budget
)

// Report is what an inspection found. Times are UTC; zero times are left out of the
// JSON.
type Report struct {
	Key               string   `json:"key"`
	State             State    `json:"state"`
	InDeadLetterQueue bool     `json:"inDeadLetterQueue"`
	Status            string   `json:"status,omitempty"` // the record's status attribute
	Attempts          int      `json:"attempts"`         // attempts in this lifecycle (since the last replay)
	Steps             []string `json:"steps,omitempty"`  // completed steps, by name
	// Destinations says, for an event fanned out to several routes, which took it
	// (delivered) and whose failure waits in the DLQ (deadLettered). A completed
	// event was delivered everywhere, the last destination recorded by the
	// completion itself.
	Destinations     []Destination `json:"destinations,omitempty"`
	LastError        string        `json:"lastError,omitempty"`
	DeadLetterReason string        `json:"deadLetterReason,omitempty"`
	PayloadHash      string        `json:"payloadHash,omitempty"`

	ClaimedAt      time.Time `json:"claimedAt,omitzero"`      // the latest attempt's claim
	LeaseExpiresAt time.Time `json:"leaseExpiresAt,omitzero"` // while a worker holds it
	DeadLetteredAt time.Time `json:"deadLetteredAt,omitzero"`
	ReplayedAt     time.Time `json:"replayedAt,omitzero"` // the latest attempts reset (a replay)
	ExpiresAt      time.Time `json:"expiresAt,omitzero"`  // end of retention: the record's TTL
}

// Destination is one destination's part of a fanned-out event.
type Destination struct {
	Name   string `json:"name"`
	State  string `json:"state"`            // delivered | deadLettered
	Reason string `json:"reason,omitempty"` // the dead letter's reason
}

// Inspector answers inspections from an idempotency store.
type Inspector struct {
	store Getter
	now   func() time.Time
}

// New returns an Inspector on store; now is the clock (nil: time.Now).
func New(store Getter, now func() time.Time) *Inspector {
	if now == nil {
		now = time.Now
	}
	return &Inspector{store: store, now: now}
}

// Inspect reports where the event of key is, from one read of its record. An empty
// key is a permanent error; a store error comes back wrapped.
func (in *Inspector) Inspect(ctx context.Context, key string) (Report, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return Report{}, retry.Permanent(errors.New("inspect: empty key; want source:id, e.g. stripe:evt_1NG8Du2eZvKYlo2C"))
	}
	now := in.now()
	r, err := in.store.Get(ctx, key, now)
	if errors.Is(err, idempotency.ErrNotFound) {
		return Report{Key: key, State: Unknown}, nil
	}
	if err != nil {
		return Report{}, fmt.Errorf("inspect %s: %w", key, err)
	}
	return FromRecord(r, now), nil
}

// FromRecord is the report of record r at now.
func FromRecord(r idempotency.Record, now time.Time) Report {
	rep := Report{
		Key:               r.Key,
		State:             StateOf(r, now),
		InDeadLetterQueue: r.DeadLetterWaiting(),
		Status:            string(r.Status),
		Attempts:          r.Attempts,
		Steps:             slices.Sorted(maps.Keys(r.Steps)),
		LastError:         r.LastError,
		DeadLetterReason:  r.DeadLetterReason,
		PayloadHash:       r.PayloadHash,
		ClaimedAt:         ms(r.ClaimedAtMs),
		DeadLetteredAt:    ms(r.DeadLetteredAtMs),
		ExpiresAt:         sec(r.ExpiresAt),
	}
	for _, step := range rep.Steps {
		name, delivered, ok := route.StepDestination(step)
		switch {
		case !ok:
		case delivered:
			rep.Destinations = append(rep.Destinations, Destination{Name: name, State: "delivered"})
		default:
			if _, done := r.Steps[route.DeliveredStep(name)]; !done {
				rep.Destinations = append(rep.Destinations, Destination{Name: name, State: "deadLettered", Reason: string(r.Steps[step])})
			}
		}
	}
	slices.SortFunc(rep.Destinations, func(a, b Destination) int { return strings.Compare(a.Name, b.Name) })
	if r.LeaseLive(now) {
		rep.LeaseExpiresAt = ms(r.LeaseExpiresAtMs)
	}
	if r.DeadLetteredAtMs > 0 && r.AttemptsResetAtMs >= r.DeadLetteredAtMs {
		rep.ReplayedAt = ms(r.AttemptsResetAtMs)
	}
	return rep
}

// StateOf is the state of a (live, not expired) record at now.
func StateOf(r idempotency.Record, now time.Time) State {
	switch {
	case r.Status == idempotency.StatusCompleted:
		return Completed
	case r.LeaseLive(now):
		return InProgress
	case r.DeadLetterWaiting():
		return DeadLettered
	case r.DeadLetteredAtMs > 0 && r.Attempts == 0:
		return Replayed
	}
	return Retrying
}

func ms(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func sec(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.Unix(v, 0).UTC()
}

// Summary is one sentence on the report's state.
func (r Report) Summary() string {
	switch r.State {
	case Unknown:
		return "no record: never received, past its retention, or dead-lettered before any attempt (see make dlq-report)"
	case InProgress:
		return "a worker is processing it now, its lease runs until " + stamp(r.LeaseExpiresAt)
	case Retrying:
		return fmt.Sprintf("%s so far; it waits in the queue for its next delivery", plural(r.Attempts, "failed attempt"))
	case Completed:
		if r.InDeadLetterQueue {
			return "done; a copy still waits in the dead-letter queue, which a replay acknowledges as a duplicate"
		}
		return "done; later copies are acknowledged as duplicates"
	case DeadLettered:
		return fmt.Sprintf("in the dead-letter queue (%s); replay it with: make replay FILTER='%s'", r.DeadLetterReason, replayFilter(r.Key))
	case Replayed:
		return "replayed from the dead-letter queue with a fresh attempt budget; back in the queue"
	}
	return string(r.State)
}

// replayFilter is the redrive filter that selects key's event (filter.ids takes an
// idempotency key).
func replayFilter(key string) string {
	ids, _ := json.Marshal([]string{key})
	return `{"ids": ` + string(ids) + `}`
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// WriteText writes the report for a person: the key and state, one sentence, then
// one field a line, leaving out what is not set.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n  %s\n", r.Key, r.State, r.Summary())
	line := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-20s %s\n", name, v)
		}
	}
	at := func(name string, t time.Time) {
		if !t.IsZero() {
			line(name, stamp(t))
		}
	}
	if r.State != Unknown {
		line("status", r.Status)
		line("attempts", fmt.Sprint(r.Attempts))
		line("steps done", strings.Join(r.Steps, ", "))
		for _, d := range r.Destinations {
			v := d.State
			if d.Reason != "" {
				v += " (" + d.Reason + ")"
			}
			line("→ "+d.Name, v)
		}
		line("in dead-letter queue", map[bool]string{true: "yes", false: "no"}[r.InDeadLetterQueue])
		line("dead-letter reason", r.DeadLetterReason)
		line("last error", r.LastError)
		at("claimed at", r.ClaimedAt)
		at("lease until", r.LeaseExpiresAt)
		at("dead-lettered at", r.DeadLetteredAt)
		at("replayed at", r.ReplayedAt)
		at("expires at", r.ExpiresAt)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
