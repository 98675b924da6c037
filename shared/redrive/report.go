package redrive

import (
	"fmt"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
)

// Why a run ended, in Report.Stop.
const (
	StopEmpty    = "empty"    // a receive found no message: the dead-letter queue is drained or all of it is held by this run
	StopAllSeen  = "allSeen"  // a receive brought only messages this run had already seen
	StopMax      = "max"      // Request.Max messages were moved (or would be, in a dry run)
	StopDeadline = "deadline" // the context's deadline minus the margin came
	StopError    = "error"    // a queue call failed in a way no retry fixes, or the context ended
)

// Counts are the run's messages by outcome. Every message seen counts in exactly
// one of Undecodable, Skipped or Matched; every matched one in exactly one of
// OverLimit, Newer, Moved, DryRun, SendFailed, DeleteFailed, ResetFailed,
// BodyMissing, BodyFailed or Left.
type Counts struct {
	Seen        int `json:"seen"`        // distinct messages received from the dead-letter queue
	Matched     int `json:"matched"`     // decodable and matching the filter
	Moved       int `json:"moved"`       // sent to the main queue and deleted from the dead-letter queue
	DryRun      int `json:"dryRun"`      // would have been moved (dry run)
	Skipped     int `json:"skipped"`     // decodable but not matching the filter; released
	OverLimit   int `json:"overLimit"`   // matching, but redriveCount reached the redrive limit; released
	Undecodable int `json:"undecodable"` // the body is not an envelope; released
	SendFailed  int `json:"sendFailed"`  // the send failed; left in the dead-letter queue
	// Newer matched, but reached the dead-letter queue after the run started (its
	// SentTimestamp is later): an event this run replayed that the processor failed
	// again, or a new failure. A run replays the queue as it was when it started;
	// these are released, for a later run.
	Newer int `json:"newer"`
	// DeleteFailed were sent but stay in the dead-letter queue too: a later redrive
	// sends them again, and idempotency absorbs the copy.
	DeleteFailed int `json:"deleteFailed"`
	// ResetFailed: the idempotency store could not give the event a fresh budget
	// (store unavailable); left in the dead-letter queue.
	ResetFailed int `json:"resetFailed"`
	// BodyMissing: the message's body is held in the claim-check store and is not
	// there (expired or deleted), or no store is configured. Left in the dead-letter
	// queue: a replay would only come back as bodyMissing. Listed in BodyProblems.
	BodyMissing int `json:"bodyMissing"`
	// BodyFailed: the stored body could not be touched or read (a store outage), or
	// a dry run read it with a SHA-256 not the message's. Left in the dead-letter
	// queue; listed in BodyProblems.
	BodyFailed int `json:"bodyFailed"`
	// Left matched but stayed because Max was reached or the run stopped at its
	// deadline; released.
	Left int `json:"left"`
	// ReleaseFailed counts messages whose release failed; they become visible again
	// when their visibility timeout ends instead of at once.
	ReleaseFailed int `json:"releaseFailed"`
}

// Report is what a run did, or in a dry run, what it found.
type Report struct {
	DryRun bool   `json:"dryRun"`
	Counts Counts `json:"counts"`
	// BySource, ByType and ByError break down every message seen by the envelope's
	// source and type (the message attributes when the body is undecodable;
	// "(unknown)" when neither says) and by dead-letter reason and last error,
	// "reason: lastError" (ByError keeps MaxErrorKeys distinct keys; the rest count
	// under "(other)").
	BySource map[string]int `json:"bySource"`
	ByType   map[string]int `json:"byType"`
	ByError  map[string]int `json:"byError"`
	// SQSRequests counts the queue calls the run made, one per call (receive, send
	// batch, delete batch, change visibility batch); SQSRequestsByCall splits it.
	SQSRequests       int            `json:"sqsRequests"`
	SQSRequestsByCall map[string]int `json:"sqsRequestsByCall"`
	// SQSRequestsPerMoved is SQSRequests / Counts.Moved (0 when nothing moved).
	SQSRequestsPerMoved float64 `json:"sqsRequestsPerMoved"`
	// StoreRequests counts idempotency store calls (one reset per message sent).
	StoreRequests int `json:"storeRequests"`
	// BodyRequests counts body store calls: one touch per stored body replayed, one
	// read per stored body in a dry run.
	BodyRequests int `json:"bodyRequests"`
	// BodyProblems lists, message by message (at most MaxBodyProblems), the matched
	// messages left in the dead-letter queue because their stored body could not be
	// had, with the reason.
	BodyProblems []BodyProblem `json:"bodyProblems,omitempty"`
	ElapsedMs    int64         `json:"elapsedMs"`
	// MovedPerSecond is Counts.Moved per second of ElapsedMs; SeenPerSecond is
	// Counts.Seen per second (the scan rate, also of a dry run).
	MovedPerSecond float64 `json:"movedPerSecond"`
	SeenPerSecond  float64 `json:"seenPerSecond"`
	// StoppedEarly is true when the run stopped at its deadline with messages
	// possibly left to examine; the counts say how far it got.
	StoppedEarly bool   `json:"stoppedEarly"`
	Stop         string `json:"stop"` // one of the Stop* values
	// Breakers is the circuit breaker state of each route dependency, when the
	// redriver knows them: replaying into an open breaker only defers the events.
	Breakers []breaker.Snapshot `json:"breakers,omitempty"`
}

// MaxErrorKeys is the most distinct keys Report.ByError holds: 50.
const MaxErrorKeys = 50

// maxErrorKeyLen bounds one ByError key, in bytes.
const maxErrorKeyLen = 200

const (
	unknownLabel = "(unknown)"
	otherLabel   = "(other)"
	// noReasonLabel is the reason of a message without deadLetterReason: the queue's
	// maxReceiveCount moved it (a record that crashed the processor), or another tool.
	noReasonLabel = "(none)"
)

func newReport(dryRun bool) Report {
	return Report{
		DryRun:            dryRun,
		BySource:          map[string]int{},
		ByType:            map[string]int{},
		ByError:           map[string]int{},
		SQSRequestsByCall: map[string]int{},
	}
}

// observe adds one message seen to the breakdowns.
func (r *Report) observe(source, typ, reason, lastError string) {
	r.BySource[orUnknown(source)]++
	r.ByType[orUnknown(typ)]++
	if reason == "" {
		reason = noReasonLabel
	}
	key := reason
	if lastError != "" {
		key += ": " + lastError
	}
	key = truncate(key, maxErrorKeyLen)
	if _, ok := r.ByError[key]; !ok && len(r.ByError) >= MaxErrorKeys {
		key = otherLabel
	}
	r.ByError[key]++
}

// finish fills the derived fields.
func (r *Report) finish(elapsed time.Duration) {
	r.ElapsedMs = elapsed.Milliseconds()
	if r.Counts.Moved > 0 {
		r.SQSRequestsPerMoved = float64(r.SQSRequests) / float64(r.Counts.Moved)
	}
	if s := elapsed.Seconds(); s > 0 {
		r.MovedPerSecond = float64(r.Counts.Moved) / s
		r.SeenPerSecond = float64(r.Counts.Seen) / s
	}
}

// Summary is a one-line account of the run for errors and logs.
func (r *Report) Summary() string {
	c := r.Counts
	return fmt.Sprintf("seen %d, matched %d, moved %d, dry run %d, skipped %d, over limit %d, newer %d, undecodable %d, send failed %d, delete failed %d, reset failed %d, body missing %d, body failed %d, left %d; stop %s",
		c.Seen, c.Matched, c.Moved, c.DryRun, c.Skipped, c.OverLimit, c.Newer, c.Undecodable, c.SendFailed, c.DeleteFailed, c.ResetFailed, c.BodyMissing, c.BodyFailed, c.Left, r.Stop)
}

func orUnknown(s string) string {
	if s == "" {
		return unknownLabel
	}
	return s
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
