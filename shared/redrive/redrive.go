package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
)

// AttrRedriveCount is the message attribute that counts how many times a message was
// moved back from the dead-letter queue. The processor copies a message's attributes
// when it dead-letters it again, so the count survives the round trip.
const AttrRedriveCount = "redriveCount"

// deadLetterAttrs are the attributes the processor adds when it dead-letters a
// message; a replayed message goes back without them.
var deadLetterAttrs = map[string]bool{
	envelope.AttrReason:    true,
	envelope.AttrLastError: true,
	envelope.AttrAttempts:  true,
	envelope.AttrFailedAt:  true,
}

// DeadLetters is the part of the dead-letter queue a run uses (queue.SQS and
// queue.Memory have it).
type DeadLetters interface {
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error)
	DeleteBatch(ctx context.Context, receiptHandles []string) ([]queue.BatchResult, error)
	ChangeVisibilityBatch(ctx context.Context, changes []queue.VisibilityChange) ([]queue.BatchResult, error)
}

// Sender is the part of the main queue a run uses.
type Sender interface {
	SendBatch(ctx context.Context, ms []queue.Message) ([]queue.BatchResult, error)
}

// Budget gives an event a fresh attempt budget in the idempotency store
// (idempotency.Store has it). It refuses a completed record with
// idempotency.ErrAlreadyCompleted, an absent one with idempotency.ErrNotFound and a
// leased one with idempotency.ErrLeaseHeld; a run moves the message in all three
// cases.
type Budget interface {
	ResetAttempts(ctx context.Context, key string, now time.Time) error
}

// Defaults of Settings.
const (
	DefaultLimit          = 3
	DefaultReceiveWait    = time.Second
	DefaultHold           = 15 * time.Minute
	DefaultDeadlineMargin = 5 * time.Second
)

// holdSlack is how long a held message stays invisible after the run's deadline.
const holdSlack = 30 * time.Second

// Settings tune a Redriver. The zero value is the default.
type Settings struct {
	// Limit is the redrive limit: a message whose redriveCount is Limit or more stays
	// in the dead-letter queue (overLimit). Default 3.
	Limit int
	// ReceiveWait is the long poll of each dead-letter receive; default 1 s. SQS takes
	// whole seconds (rounded up).
	ReceiveWait time.Duration
	// Hold is how long received messages stay invisible in the dead-letter queue
	// when the context has no deadline; default 15 min. With a deadline they stay
	// invisible until the deadline plus 30 s. Messages not moved are released at the
	// end of the run, so Hold only matters when a run crashes or outlasts it.
	Hold time.Duration
	// DeadlineMargin is how long before the context's deadline the run stops
	// examining messages, to release what it holds and return its report; default 5 s.
	DeadlineMargin time.Duration
}

func (s Settings) withDefaults() Settings {
	if s.Limit <= 0 {
		s.Limit = DefaultLimit
	}
	if s.ReceiveWait <= 0 {
		s.ReceiveWait = DefaultReceiveWait
	}
	if s.Hold <= 0 {
		s.Hold = DefaultHold
	}
	if s.DeadlineMargin <= 0 {
		s.DeadlineMargin = DefaultDeadlineMargin
	}
	return s
}

// Options are a Redriver's dependencies.
type Options struct {
	DLQ   DeadLetters // required: the dead-letter queue
	Queue Sender      // required: the main queue
	// Budget, when set, resets each event's attempts before it is sent, so an
	// exhausted event gets a fresh budget. Optional.
	Budget Budget
	// Bodies is the claim-check body store. A message whose body is held there has
	// its body touched before it is replayed (read, in a dry run); without a store,
	// or when the body is missing, the message stays in the dead-letter queue with a
	// BodyProblem. Optional: needed only for stored-body messages.
	Bodies Bodies
	// Breakers and Dependencies, when set, add the circuit breaker state of each
	// dependency to every report, so the DLQ report says whether a destination is
	// still down before anything is replayed. Optional.
	Breakers     BreakerStates
	Dependencies []string
	Settings     Settings
	Now          func() time.Time                                 // default time.Now
	Sleep        func(ctx context.Context, d time.Duration) error // paces sends; default a timer that ends early with ctx
	Log          *slog.Logger                                     // default discards
}

// BreakerStates reads a dependency's breaker (breaker.Breaker).
type BreakerStates interface {
	State(ctx context.Context, name string) (breaker.Snapshot, error)
}

// Redriver moves messages from the dead-letter queue back to the main queue. It is
// safe for concurrent use; each Run is independent.
type Redriver struct {
	o   Options
	set Settings
}

// New returns a Redriver.
func New(o Options) *Redriver {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Redriver{o: o, set: o.Settings.withDefaults()}
}

// Handle is the Lambda handler: it parses the request JSON and runs it. A bad request
// returns an error wrapping ErrBadRequest and touches no queue.
func (r *Redriver) Handle(ctx context.Context, raw json.RawMessage) (Report, error) {
	req, err := ParseRequest(raw)
	if err != nil {
		r.o.Log.ErrorContext(ctx, "bad request", "error", err.Error())
		return Report{}, err
	}
	return r.Run(ctx, req)
}

// Run moves the messages of the dead-letter queue that match req back to the main
// queue and reports what it did. It reads the dead-letter queue in batches of
// queue.MaxBatch, sends the matching messages with SendBatch (body unchanged, the
// envelope's attributes, redriveCount one higher, no dead-letter attributes) and
// deletes with DeleteBatch exactly those whose send succeeded. Every message it does
// not move is released (visible again) before Run returns. The error, when not nil,
// says why the run stopped early; the report still holds the counts so far.
func (r *Redriver) Run(ctx context.Context, req Request) (Report, error) {
	if err := req.Validate(); err != nil {
		return Report{}, err
	}
	x := &run{
		r:     r,
		req:   req,
		match: newMatcher(req.Filter),
		rep:   newReport(req.DryRun),
		seen:  map[string]bool{},
		held:  map[string]string{},
		start: r.o.Now(),
	}
	if dl, ok := ctx.Deadline(); ok {
		x.deadline = dl
		x.stopAt = dl.Add(-r.set.DeadlineMargin)
	}
	err := x.loop(ctx)
	x.release(ctx)
	x.rep.finish(r.o.Now().Sub(x.start))
	rep := x.rep
	if r.o.Breakers != nil {
		for _, d := range r.o.Dependencies {
			if snap, err := r.o.Breakers.State(context.WithoutCancel(ctx), d); err == nil {
				rep.Breakers = append(rep.Breakers, snap)
			} else {
				r.o.Log.WarnContext(ctx, "breaker state unreadable", "dependency", d, "error", err.Error())
			}
		}
	}
	level := slog.LevelInfo
	if err != nil || rep.Counts.SendFailed+rep.Counts.DeleteFailed+rep.Counts.ResetFailed+rep.Counts.BodyMissing+rep.Counts.BodyFailed > 0 {
		level = slog.LevelWarn
	}
	r.o.Log.LogAttrs(ctx, level, "redrive",
		slog.Bool("dryRun", req.DryRun), slog.String("summary", rep.Summary()),
		slog.Int("sqsRequests", rep.SQSRequests), slog.Int64("elapsedMs", rep.ElapsedMs),
		slog.Bool("stoppedEarly", rep.StoppedEarly))
	if err != nil {
		return rep, fmt.Errorf("redrive stopped (%s): %w", rep.Summary(), err)
	}
	return rep, nil
}

// run is the state of one Run.
type run struct {
	r        *Redriver
	req      Request
	match    matcher
	rep      Report
	seen     map[string]bool   // message ids received in this run
	held     map[string]string // message id → current receipt handle of messages to release
	order    []string          // held ids in the order they were first held
	start    time.Time
	deadline time.Time // the context's deadline; zero when none
	stopAt   time.Time // deadline minus the margin; zero when none
	taken    int       // messages sent successfully (or counted as dryRun), against Max
	paced    int       // messages handed to SendBatch, for pacing
	paceFrom time.Time // when the first send went out
}

// errDeadline stops a run at its deadline; it is not an error of the run.
var errDeadline = errors.New("deadline")

func (x *run) loop(ctx context.Context) error {
	for {
		switch {
		case x.req.Max > 0 && x.taken >= x.req.Max:
			x.rep.Stop = StopMax
			return nil
		case x.pastDeadline(x.r.o.Now()):
			x.stopEarly()
			return nil
		case ctx.Err() != nil:
			x.rep.Stop = StopError
			return ctx.Err()
		}
		msgs, err := x.receive(ctx)
		if err != nil {
			x.rep.Stop = StopError
			return fmt.Errorf("receive from the dead-letter queue: %w", err)
		}
		if len(msgs) == 0 {
			x.rep.Stop = StopEmpty
			return nil
		}
		fresh := msgs[:0:0]
		for _, m := range msgs {
			if x.seen[m.ID] {
				// Its visibility ran out and this receive took it again: only the new
				// receipt handle can release it.
				x.hold(m)
				continue
			}
			fresh = append(fresh, m)
		}
		if len(fresh) == 0 {
			x.rep.Stop = StopAllSeen
			return nil
		}
		if err := x.batch(ctx, fresh); err != nil {
			if errors.Is(err, errDeadline) {
				x.stopEarly()
				return nil
			}
			x.rep.Stop = StopError
			return err
		}
	}
}

func (x *run) pastDeadline(now time.Time) bool {
	return !x.stopAt.IsZero() && !now.Before(x.stopAt)
}

func (x *run) stopEarly() {
	x.rep.Stop = StopDeadline
	x.rep.StoppedEarly = true
}

func (x *run) count(call string) {
	x.rep.SQSRequests++
	x.rep.SQSRequestsByCall[call]++
}

// receive takes the next batch, invisible until the run is over.
func (x *run) receive(ctx context.Context) ([]queue.Received, error) {
	hold := x.r.set.Hold
	if !x.deadline.IsZero() {
		hold = max(x.deadline.Sub(x.r.o.Now()), 0) + holdSlack
	}
	hold = min(hold, queue.MaxVisibility)
	x.count("ReceiveMessage")
	return x.r.o.DLQ.Receive(ctx, queue.MaxBatch, x.r.set.ReceiveWait, hold)
}

// hold keeps m in the dead-letter queue: it is released when the run ends.
func (x *run) hold(m queue.Received) {
	if _, ok := x.held[m.ID]; !ok {
		x.order = append(x.order, m.ID)
	}
	x.held[m.ID] = m.ReceiptHandle
}

// candidate is a message to move.
type candidate struct {
	m     queue.Received
	env   *envelope.Envelope
	count int // its redriveCount before this move
}

// batch classifies the messages of one receive and moves those that qualify.
func (x *run) batch(ctx context.Context, msgs []queue.Received) error {
	c := &x.rep.Counts
	var movers []candidate
	for _, m := range msgs {
		x.seen[m.ID] = true
		c.Seen++
		reason, lastErr := m.Attributes[envelope.AttrReason], m.Attributes[envelope.AttrLastError]
		env, err := envelope.Decode([]byte(m.Body))
		if err != nil {
			x.rep.observe(m.Attributes[envelope.AttrSource], m.Attributes[envelope.AttrType], reason, lastErr)
			c.Undecodable++
			x.hold(m)
			continue
		}
		x.rep.observe(env.Source, env.Type, reason, lastErr)
		if !x.match.match(env, m.Attributes) {
			c.Skipped++
			x.hold(m)
			continue
		}
		c.Matched++
		n := redriveCount(m.Attributes)
		switch {
		case m.SentAt.After(x.start):
			// Dead-lettered after the run started: most likely an event this run
			// replayed and the processor failed again. Moving it would replay the
			// event again in the same run, round after round up to the limit.
			c.Newer++
			x.hold(m)
		case n >= x.r.set.Limit:
			c.OverLimit++
			x.hold(m)
		case x.req.Max > 0 && x.taken+len(movers) >= x.req.Max:
			c.Left++
			x.hold(m)
		case x.req.DryRun:
			if x.checkBody(ctx, m, env) {
				c.DryRun++
				x.taken++
				x.hold(m)
			}
		default:
			movers = append(movers, candidate{m: m, env: env, count: n})
		}
	}
	if len(movers) == 0 {
		return nil
	}
	return x.move(ctx, x.resetBudgets(ctx, x.touchBodies(ctx, movers)))
}

// resetBudgets gives each candidate a fresh attempt budget and returns those that may
// be sent. A store that fails leaves the message in the dead-letter queue.
func (x *run) resetBudgets(ctx context.Context, cs []candidate) []candidate {
	b := x.r.o.Budget
	if b == nil {
		return cs
	}
	now := x.r.o.Now()
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() { errs[i] = b.ResetAttempts(ctx, cs[i].env.Key(), now) })
	}
	wg.Wait()
	x.rep.StoreRequests += len(cs)
	out := cs[:0]
	for i, cand := range cs {
		switch err := errs[i]; {
		case err == nil,
			errors.Is(err, idempotency.ErrNotFound),         // never processed, or its record expired
			errors.Is(err, idempotency.ErrAlreadyCompleted), // the replay will be a duplicate and deliver nothing
			errors.Is(err, idempotency.ErrLeaseHeld):        // a copy is being processed now; this one will follow it
			out = append(out, cand)
		default:
			x.rep.Counts.ResetFailed++
			x.hold(cand.m)
			x.r.o.Log.WarnContext(ctx, "reset attempts failed; message left in the dead-letter queue",
				"key", cand.env.Key(), "messageId", cand.m.ID, "error", err.Error())
		}
	}
	return out
}

// move sends the candidates in batches that SQS accepts and deletes from the
// dead-letter queue exactly those whose send succeeded.
func (x *run) move(ctx context.Context, cs []candidate) error {
	for len(cs) > 0 {
		n := batchLen(cs)
		chunk := cs[:n]
		if err := x.pace(ctx, n); err != nil {
			x.rep.Counts.Left += len(cs)
			for _, cand := range cs {
				x.hold(cand.m)
			}
			return err
		}
		cs = cs[n:]
		if err := x.moveChunk(ctx, chunk); err != nil {
			for _, cand := range cs {
				x.rep.Counts.Left++
				x.hold(cand.m)
			}
			return err
		}
	}
	return nil
}

// pace waits until n more messages may be sent: the run sends at most RatePerSecond
// messages per second on average since its first send. It returns errDeadline
// instead of waiting past the deadline.
func (x *run) pace(ctx context.Context, n int) error {
	rate := x.req.RatePerSecond
	now := x.r.o.Now()
	if rate <= 0 {
		return nil
	}
	if x.paceFrom.IsZero() {
		x.paceFrom = now
	}
	due := x.paceFrom.Add(time.Duration(float64(x.paced) / rate * float64(time.Second)))
	if due.After(now) {
		if x.pastDeadline(due) {
			return errDeadline
		}
		if err := x.r.o.Sleep(ctx, due.Sub(now)); err != nil {
			return err
		}
	}
	x.paced += n
	return nil
}

func (x *run) moveChunk(ctx context.Context, cs []candidate) error {
	c := &x.rep.Counts
	ms := make([]queue.Message, len(cs))
	for i, cand := range cs {
		ms[i] = queue.Message{Body: cand.m.Body, Attributes: replayAttributes(cand)}
	}
	x.count("SendMessageBatch")
	res, err := x.r.o.Queue.SendBatch(ctx, ms)
	if err != nil {
		c.SendFailed += len(cs)
		for _, cand := range cs {
			x.hold(cand.m)
		}
		x.r.o.Log.WarnContext(ctx, "send to the main queue failed; messages left in the dead-letter queue", "messages", len(cs), "error", err.Error())
		if !queue.IsRetryable(err) {
			return fmt.Errorf("send to the main queue: %w", err)
		}
		return nil
	}
	sent := make([]candidate, 0, len(cs))
	for i, cand := range cs {
		if e := res[i].Err; e != nil {
			c.SendFailed++
			x.hold(cand.m)
			x.r.o.Log.WarnContext(ctx, "send to the main queue failed; message left in the dead-letter queue",
				"key", cand.env.Key(), "messageId", cand.m.ID, "error", e.Error())
			continue
		}
		sent = append(sent, cand)
	}
	x.taken += len(sent)
	if len(sent) == 0 {
		return nil
	}
	handles := make([]string, len(sent))
	for i, cand := range sent {
		handles[i] = cand.m.ReceiptHandle
	}
	x.count("DeleteMessageBatch")
	res, err = x.r.o.DLQ.DeleteBatch(ctx, handles)
	for i, cand := range sent {
		e := err
		if e == nil {
			e = res[i].Err
		}
		if e != nil {
			// The event is on the main queue and still in the dead-letter queue: a
			// later redrive sends it again and idempotency absorbs the copy.
			c.DeleteFailed++
			x.hold(cand.m)
			x.r.o.Log.WarnContext(ctx, "delete from the dead-letter queue failed after the send; the event may be replayed twice",
				"key", cand.env.Key(), "messageId", cand.m.ID, "error", e.Error())
			continue
		}
		c.Moved++
	}
	return nil
}

// releaseConcurrency is how many release batches are in flight at once.
const releaseConcurrency = 8

// release makes every message the run holds visible again, in batches of
// queue.MaxBatch, several at once. It runs even when ctx has ended: until ctx's
// deadline, or for DeadlineMargin when that is later or ctx has no deadline left.
func (x *run) release(ctx context.Context) {
	if len(x.order) == 0 {
		return
	}
	end := time.Now().Add(x.r.set.DeadlineMargin)
	if dl, ok := ctx.Deadline(); ok && dl.After(end) {
		end = dl
	}
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()

	var batches [][]string
	for i := 0; i < len(x.order); i += queue.MaxBatch {
		batches = append(batches, x.order[i:min(i+queue.MaxBatch, len(x.order))])
	}
	failed := make([]int, len(batches))
	errs := make([]error, len(batches))
	sem := make(chan struct{}, releaseConcurrency)
	var wg sync.WaitGroup
	for b, ids := range batches {
		changes := make([]queue.VisibilityChange, len(ids))
		for j, id := range ids {
			changes[j] = queue.VisibilityChange{ReceiptHandle: x.held[id]}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := x.r.o.DLQ.ChangeVisibilityBatch(rctx, changes)
			errs[b] = err
			for j := range changes {
				e := err
				if e == nil {
					e = res[j].Err
				}
				// A message whose visibility already ran out is visible: released.
				if e != nil && !errors.Is(e, queue.ErrMessageNotInflight) {
					failed[b]++
					if errs[b] == nil {
						errs[b] = e
					}
				}
			}
		})
	}
	wg.Wait()
	for b := range batches {
		x.count("ChangeMessageVisibilityBatch")
		if failed[b] > 0 {
			x.rep.Counts.ReleaseFailed += failed[b]
			x.r.o.Log.WarnContext(ctx, "release failed; messages become visible when their visibility timeout ends",
				"messages", failed[b], "error", errs[b].Error())
		}
	}
}

// replayAttributes are the attributes of a replayed message: its own without the
// dead-letter ones, the envelope's from the body, and redriveCount one higher. When
// that makes more than SQS takes, other attributes go, last name first.
func replayAttributes(c candidate) map[string]string {
	out := make(map[string]string, len(c.m.Attributes)+2)
	for k, v := range c.m.Attributes {
		if !deadLetterAttrs[k] {
			out[k] = v
		}
	}
	own := c.env.Attributes()
	maps.Copy(out, own)
	own[AttrRedriveCount] = strconv.Itoa(c.count + 1)
	out[AttrRedriveCount] = own[AttrRedriveCount]
	if v, ok := c.m.Attributes[envelope.AttrDestinations]; ok {
		own[envelope.AttrDestinations] = v // the replay delivers only to them: never dropped
	}
	if len(out) > queue.MaxAttributes {
		var extras []string
		for k := range out {
			if _, ok := own[k]; !ok {
				extras = append(extras, k)
			}
		}
		slices.Sort(extras)
		for i := len(extras) - 1; i >= 0 && len(out) > queue.MaxAttributes; i-- {
			delete(out, extras[i])
		}
	}
	return out
}

// redriveCount reads the redriveCount attribute; absent or malformed counts as 0.
func redriveCount(attrs map[string]string) int {
	n, err := strconv.Atoi(strings.TrimSpace(attrs[AttrRedriveCount]))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// batchLen is how many of cs, from the front, fit in one SendBatch: at most
// queue.MaxBatch entries and queue.MaxMessageBytes in all (at least one).
func batchLen(cs []candidate) int {
	total := 0
	for i, c := range cs {
		if i == queue.MaxBatch {
			return i
		}
		total += messageBytes(c)
		if total > queue.MaxMessageBytes && i > 0 {
			return i
		}
	}
	return len(cs)
}

// messageBytes is the size SQS counts for a replayed message: body and attributes
// (name, data type "String" and value).
func messageBytes(c candidate) int {
	n := len(c.m.Body)
	for k, v := range replayAttributes(c) {
		n += len(k) + len("String") + len(v)
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
