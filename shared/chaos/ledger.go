package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Boundary is a point of an invocation where a crash is injected.
type Boundary string

// Step boundaries.
const (
	AfterClaim       Boundary = "afterClaim"       // the idempotency record is claimed, the handler has not run
	AfterDestination Boundary = "afterDestination" // the destination answered (and may have applied the event)
	AfterStep        Boundary = "afterStep"        // one destination of a fan-out is recorded done, the others not yet called
	BeforeComplete   Boundary = "beforeComplete"   // the handler succeeded, its completion is not recorded
	AfterComplete    Boundary = "afterComplete"    // the completion is recorded, the record not yet acknowledged
	AfterDeadLetter  Boundary = "afterDeadLetter"  // the dead-letter queue accepted the record, not yet acknowledged
)

// Boundaries lists every Boundary in the order an invocation crosses them.
var Boundaries = []Boundary{AfterClaim, AfterDestination, AfterStep, BeforeComplete, AfterComplete, AfterDeadLetter}

// ReasonMaxReceiveCount is the reason counted for a dead letter the queue's redrive
// policy moved (it carries no deadLetterReason attribute).
const ReasonMaxReceiveCount = "maxReceiveCount"

// Ledger is the account of one chaos run, kept by the providers' and the
// destination's side.
type Ledger struct {
	Seed          int64
	Webhooks      int           // distinct webhooks the providers sent
	Deliveries    int           // webhook × destination pairs: what must be applied once or dead-lettered
	SimulatedTime time.Duration // fake time from the start to the end of the run
	Poison        int           // deliveries the destination rejects with 400 on every call
	Stubborn      int           // deliveries the destination fails with 503 until the replay

	// The providers' side.
	Posts          int // posts to ingest, duplicates and retries included
	Acked          int // webhooks acknowledged with 2xx (at least one of their posts)
	DuplicatePosts int // extra posts of an already signed webhook (provider duplicates)
	Refused        int // posts answered 5xx
	RefusedRetried int // webhooks refused with 5xx at least once, then acknowledged on a retry
	Rejected       int // posts answered 4xx (retried, re-signed)
	SendFailures   int // sends the queue refused at ingest (answered 503)

	// The pipeline.
	Invocations        int
	InvocationTimeouts int              // invocations that overran their timeout; their answer was discarded
	Crashes            map[Boundary]int // invocations that died, by boundary
	Throttles          int              // idempotency store operations throttled
	BreakerThrottles   int              // breaker store operations throttled
	LostDeletes        int              // acknowledged records whose delete failed: delivered again
	BreakerOpens       int              // breaker transitions to open
	DuplicatesAbsorbed int              // records the processor acknowledged as duplicates
	Retried            int              // records scheduled again after a transient failure
	Deferred           int              // records deferred: breaker open, probe failed, or leased elsewhere
	Replayed           int              // dead letters the redrive moved back to the main queue
	// DeadLetteredBeforeReplay counts the webhooks in the dead-letter queue before
	// the replay, by reason (permanent ones are not replayed).
	DeadLetteredBeforeReplay map[string]int

	// The destination's side.
	DestinationCalls int // calls received
	Unavailable      int // answered 503 (transient errors and the outage)
	Timeouts         int // calls that timed out
	Rejections       int // answered 400
	Redeliveries     int // raw re-deliveries: calls for an Idempotency-Key already applied, absorbed

	// The outcome, per delivery (webhook × destination).
	Delivered          int            // applied exactly once
	DeadLettered       map[string]int // in the dead-letter queue at the end, not applied, by reason
	DeadLetterMessages int            // messages in the dead-letter queue at the end
	Lost               []string       // "key: why", sorted
	Doubled            []string       // "key: why", sorted
}

// OK reports whether nothing was lost and nothing doubled.
func (l *Ledger) OK() bool { return len(l.Lost) == 0 && len(l.Doubled) == 0 }

// CrashCount is the number of crashes at every boundary.
func (l *Ledger) CrashCount() int {
	n := 0
	for _, c := range l.Crashes {
		n += c
	}
	return n
}

// String prints the ledger, seed first, one section per line, then every lost or
// doubled webhook.
func (l *Ledger) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d webhooks to %d deliveries, %v simulated, %d invocations\n", l.Seed, l.Webhooks, l.Deliveries, l.SimulatedTime, l.Invocations)
	fmt.Fprintf(&b, "  deliveries   poison (400 on every call) %d, stubborn (503 until the replay) %d\n", l.Poison, l.Stubborn)
	fmt.Fprintf(&b, "  providers    posts %d, acked %d, duplicate posts %d, refused 5xx %d (webhooks refused then acked on retry %d), rejected 4xx %d\n",
		l.Posts, l.Acked, l.DuplicatePosts, l.Refused, l.RefusedRetried, l.Rejected)
	crashes := make([]string, 0, len(Boundaries))
	for _, bd := range Boundaries {
		crashes = append(crashes, fmt.Sprintf("%s %d", bd, l.Crashes[bd]))
	}
	fmt.Fprintf(&b, "  faults       send failures %d, lost deletes %d, store throttles %d, breaker store throttles %d, invocation timeouts %d\n",
		l.SendFailures, l.LostDeletes, l.Throttles, l.BreakerThrottles, l.InvocationTimeouts)
	fmt.Fprintf(&b, "  crashes      %d (%s)\n", l.CrashCount(), strings.Join(crashes, ", "))
	fmt.Fprintf(&b, "  processor    duplicates absorbed %d, retried %d, deferred %d, breaker opens %d\n",
		l.DuplicatesAbsorbed, l.Retried, l.Deferred, l.BreakerOpens)
	fmt.Fprintf(&b, "  replay       dead-lettered before it %d (%s), messages moved back %d\n",
		sum(l.DeadLetteredBeforeReplay), byReason(l.DeadLetteredBeforeReplay), l.Replayed)
	fmt.Fprintf(&b, "  destination  calls %d, 503 %d, timeouts %d, 400 %d, raw re-deliveries %d\n",
		l.DestinationCalls, l.Unavailable, l.Timeouts, l.Rejections, l.Redeliveries)
	fmt.Fprintf(&b, "  outcome      delivered once %d, dead-lettered %d (%s; %d messages), lost %d, doubled %d\n",
		l.Delivered, sum(l.DeadLettered), byReason(l.DeadLettered), l.DeadLetterMessages, len(l.Lost), len(l.Doubled))
	for _, k := range l.Lost {
		fmt.Fprintf(&b, "  LOST     %s\n", k)
	}
	for _, k := range l.Doubled {
		fmt.Fprintf(&b, "  DOUBLED  %s\n", k)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// byReason prints counts by reason, sorted by reason: "exhausted 2, permanent 9".
func byReason(m map[string]int) string {
	reasons := make([]string, 0, len(m))
	for r, n := range m {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	slices.Sort(reasons)
	if len(reasons) == 0 {
		return "none"
	}
	return strings.Join(reasons, ", ")
}
