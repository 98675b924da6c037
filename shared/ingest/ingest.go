package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Defaults and limits.
const (
	// DefaultMaxBodyBytes is the default webhook body limit: 6 MiB (6291456 bytes),
	// the most a synchronous Lambda invocation can receive. A body reaches Tenaz only
	// if the whole API Gateway / function-URL event fits Lambda's 6 MB request
	// payload: text bodies travel in it as a JSON string (escaping quotes,
	// backslashes and control characters grows them) and binary content types as
	// base64 (4/3 inflation, so about 4.5 MB of binary). The HTTP API itself accepts
	// 10 MB, but Lambda's limit applies first.
	DefaultMaxBodyBytes = 6 << 20
	// MaxMessageBytes is the largest SQS message (1 MiB): body, envelope and
	// message attributes together must fit in it.
	MaxMessageBytes = 1 << 20
	// DefaultInlineMaxBytes is the default largest message that carries its body
	// inline when a body store is configured: 458752 bytes (7 × 64 KiB, seven SQS
	// billing chunks). A larger one goes through the store.
	DefaultInlineMaxBytes = 7 * 64 << 10
)

// Sender is the queue call ingest makes.
type Sender interface {
	Send(ctx context.Context, m queue.Message) (id string, err error)
}

// Bodies is the claim-check store call ingest makes (blob.Store has it): store body
// under key, with sum its hex SHA-256.
type Bodies interface {
	Put(ctx context.Context, key, sum string, body []byte) error
}

// Catalog serves sources that may change while the function runs (the sources
// secret, re-read from time to time).
type Catalog interface {
	// Source returns the named source; false answers 404.
	Source(ctx context.Context, name string) (*webhook.Source, bool)
	// SignatureFailed is told that a signature did not verify for name; it may
	// re-read the sources and returns the source afterwards with whether it changed.
	SignatureFailed(ctx context.Context, name string) (*webhook.Source, bool)
}

// Options configure a Service.
type Options struct {
	Sources      webhook.Sources // verified sources by route name (required unless Catalog is set)
	Catalog      Catalog         // when set, used instead of Sources
	Queue        Sender          // the main queue (required)
	MaxBodyBytes int             // body limit in bytes; default DefaultMaxBodyBytes
	// Bodies, when set, holds the bodies of messages larger than InlineMaxBytes (and
	// of inline messages the queue refuses); the message then carries a reference.
	// Without it a message travels inline up to MaxMessageBytes and larger ones are
	// refused with 413.
	Bodies Bodies
	// InlineMaxBytes is the largest message (envelope and attributes) sent with its
	// body inline when Bodies is set, in bytes; default DefaultInlineMaxBytes, at
	// most MaxMessageBytes.
	InlineMaxBytes int
	Now            func() time.Time // clock; default time.Now
	Log            *slog.Logger     // default slog.Default()
	// Observe, when set, is told of every request's outcome (the local live view
	// counts with it). It must not block.
	Observe func(Result)
}

// Service handles webhook requests.
type Service struct {
	sources webhook.Sources
	catalog Catalog
	queue   Sender
	bodies  Bodies
	inline  int
	maxBody int
	now     func() time.Time
	log     *slog.Logger
	observe func(Result)
}

// New returns a Service. It panics on a missing Sources (and Catalog) or Queue: both
// are wired at start-up, never per request.
func New(o Options) *Service {
	if (o.Sources == nil && o.Catalog == nil) || o.Queue == nil {
		panic("ingest: Sources or Catalog, and Queue, are required")
	}
	s := &Service{sources: o.Sources, catalog: o.Catalog, queue: o.Queue, bodies: o.Bodies, inline: o.InlineMaxBytes, maxBody: o.MaxBodyBytes, now: o.Now, log: o.Log, observe: o.Observe}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.inline <= 0 {
		s.inline = DefaultInlineMaxBytes
	}
	s.inline = min(s.inline, MaxMessageBytes)
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Request is one incoming webhook, independent of the transport.
type Request struct {
	Method  string
	Source  string            // the {source} path parameter
	Headers map[string]string // lower-case names
	Body    []byte
}

// Result is the outcome of one request.
type Result struct {
	Status int
	Body   []byte // JSON, unless ContentType says otherwise
	// ContentType of Body when it is not application/json (a handshake's answer, such
	// as Twitch's text/plain challenge).
	ContentType string
	Outcome     string // accepted, challenge, or the refusal code (bad_signature, …)
	Source      string
	ID          string
	Type        string
}

// Outcome codes besides the webhook package's verification codes.
const (
	OutcomeAccepted      = "accepted"
	OutcomeChallenge     = "challenge"
	OutcomeUnknownSource = "unknown_source"
	OutcomeMethod        = "method_not_allowed"
	OutcomeTooLarge      = "body_too_large"
	OutcomeQueueFailed   = "queue_unavailable"
	// OutcomeQueueRefused: the queue refused the message for good (a retry would
	// get the same answer) and no body store could take the body instead: 500.
	OutcomeQueueRefused = "queue_refused"
	// OutcomeStoreFailed: the body store is down or throttling: 503, nothing sent.
	OutcomeStoreFailed = "store_unavailable"
	// OutcomeInternal: a fault of this deployment (a message that cannot be built,
	// a store that refuses the body for good): 500.
	OutcomeInternal = "internal"
)

// Handle verifies req, enqueues it and says what to answer.
func (s *Service) Handle(ctx context.Context, req Request) Result {
	res := s.serve(ctx, req)
	if res.Body == nil {
		res.Body = []byte(acceptedBody(res.ID))
	}
	return res
}

// serve is Handle, except that the Result of an accepted webhook has no Body unless
// an observer is told of it: HandleAPIGateway writes that answer straight into its
// response.
func (s *Service) serve(ctx context.Context, req Request) Result {
	res := s.handle(ctx, req)
	res.Source = req.Source
	// An accepted webhook logs at DEBUG: SQS and the API's metrics count them, and a
	// line per webhook would be the largest item of the CloudWatch Logs bill.
	lvl := slog.LevelDebug
	if res.Status >= 500 {
		lvl = slog.LevelError
	} else if res.Status >= 400 {
		lvl = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, lvl, "webhook", slog.String("source", req.Source), slog.String("id", res.ID),
		slog.String("type", res.Type), slog.String("outcome", res.Outcome), slog.Int("status", res.Status))
	if s.observe != nil {
		if res.Body == nil {
			res.Body = []byte(acceptedBody(res.ID))
		}
		s.observe(res)
	}
	return res
}

func (s *Service) handle(ctx context.Context, req Request) Result {
	if req.Method != http.MethodPost {
		return refuse(http.StatusMethodNotAllowed, OutcomeMethod, "method "+req.Method+" not allowed; webhooks are POSTed")
	}
	src, ok := s.source(ctx, req.Source)
	if !ok {
		return refuse(http.StatusNotFound, OutcomeUnknownSource, "unknown source")
	}
	if len(req.Body) > s.maxBody {
		return refuse(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "body larger than the limit")
	}
	now := s.now()
	ev, err := src.Verify(req.Headers, req.Body, now)
	if err != nil && s.catalog != nil && isBadSignature(err) {
		// The sender's secret may have rotated: verify once more against freshly
		// read sources, if they changed.
		if fresh, changed := s.catalog.SignatureFailed(ctx, req.Source); changed {
			ev, err = fresh.Verify(req.Headers, req.Body, now)
		}
	}
	if err != nil {
		var verr *webhook.Error
		if errors.As(err, &verr) {
			return refuse(verr.Status, verr.Code, verr.Message)
		}
		return refuse(http.StatusUnauthorized, "bad_signature", "signature verification failed")
	}
	if ev.Reply != nil {
		// A provider's endpoint check, verified: answered here, never enqueued.
		res := Result{Status: http.StatusOK, Body: ev.Reply.Body, Outcome: OutcomeChallenge, Type: ev.Type}
		if ev.Reply.ContentType != "application/json" {
			res.ContentType = ev.Reply.ContentType
		}
		return res
	}

	// Verify hands over a map of its own (or nil): the content type joins it.
	headers := ev.Headers
	if ct := req.Headers["content-type"]; ct != "" {
		if headers == nil {
			headers = make(map[string]string, 1)
		}
		headers["content-type"] = ct
	}
	env := &envelope.Envelope{Source: req.Source, ID: ev.ID, Type: ev.Type, ReceivedAt: now.UTC(), Headers: headers, Body: req.Body}
	res := s.enqueue(ctx, env)
	res.ID, res.Type = ev.ID, ev.Type
	return res
}

// enqueue sends env, with its body inline when the message fits (InlineMaxBytes with
// a body store, MaxMessageBytes without), else through the body store: the body is
// put first and only then the message carrying its reference is sent.
func (s *Service) enqueue(ctx context.Context, env *envelope.Envelope) Result {
	limit := MaxMessageBytes
	if s.bodies != nil {
		limit = s.inline
	}
	// An encoded envelope is never shorter than its body (a JSON string or base64):
	// a body over the limit is not encoded inline only to be measured.
	if len(env.Body) <= limit {
		msg, size, err := message(env)
		if err != nil {
			// Verify guarantees id and type; this is a bug, not the sender's fault.
			return s.internal(ctx, env, "build the queue message", err)
		}
		if size <= limit {
			err := s.send(ctx, msg)
			if err == nil {
				return Result{Status: http.StatusAccepted, Outcome: OutcomeAccepted}
			}
			if !refused(err) || s.bodies == nil {
				return s.sendFailed(ctx, env, err)
			}
			// The queue will never take this message as it is (its contents, its
			// size): the body goes through the store instead.
			s.log.WarnContext(ctx, "queue refused the inline message; sending the body through the store",
				"source", env.Source, "id", env.ID, "error", err.Error())
		}
	}
	if s.bodies == nil {
		return refuse(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "body too large for the queue once wrapped")
	}
	return s.claimCheck(ctx, env)
}

// claimCheck puts env's body in the store, then sends the version 2 message that
// refers to it. A body put for a message whose send then fails stays in the store
// until it expires: harmless, and the sender's retry overwrites it (same key).
func (s *Service) claimCheck(ctx context.Context, env *envelope.Envelope) Result {
	key, err := blob.Key(env.Source, env.ID)
	if err != nil {
		return s.internal(ctx, env, "name the stored body", err)
	}
	ref := *env
	ref.Body, ref.BodyRef, ref.BodySHA256 = nil, key, blob.Sum(env.Body)
	msg, size, err := message(&ref)
	if err != nil {
		return s.internal(ctx, env, "build the queue message", err)
	}
	if size > MaxMessageBytes {
		// Only headers of an absurd size could do this: refused before anything is stored.
		return refuse(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "headers too large for the queue once wrapped")
	}
	if err := s.bodies.Put(ctx, key, ref.BodySHA256, env.Body); err != nil {
		s.log.ErrorContext(ctx, "store body failed", "source", env.Source, "id", env.ID, "key", key, "error", err.Error())
		if retryable(err) || ctx.Err() != nil {
			return refuse(http.StatusServiceUnavailable, OutcomeStoreFailed, "could not store the webhook body; retry later")
		}
		return refuse(http.StatusInternalServerError, OutcomeInternal, "could not store the webhook body")
	}
	if err := s.send(ctx, msg); err != nil {
		return s.sendFailed(ctx, env, err)
	}
	return Result{Status: http.StatusAccepted, Outcome: OutcomeAccepted}
}

// message encodes env as a queue message and returns its size as SQS counts it.
func message(env *envelope.Envelope) (queue.Message, int, error) {
	data, err := envelope.Encode(env)
	if err != nil {
		return queue.Message{}, 0, err
	}
	attrs := env.Attributes()
	return queue.Message{Body: string(data), Attributes: attrs}, len(data) + attrBytes(attrs), nil
}

func (s *Service) send(ctx context.Context, msg queue.Message) error {
	_, err := s.queue.Send(ctx, msg)
	return err
}

// sendFailed answers a failed send: 503 when a retry can help, so the sender retries;
// 500 queue_refused when the queue refused the message for good, never an endless
// 503 for a message no retry will get through.
func (s *Service) sendFailed(ctx context.Context, env *envelope.Envelope, err error) Result {
	s.log.ErrorContext(ctx, "enqueue failed", "source", env.Source, "id", env.ID, "error", err.Error())
	if refused(err) {
		return refuse(http.StatusInternalServerError, OutcomeQueueRefused, "the queue refused the webhook")
	}
	return refuse(http.StatusServiceUnavailable, OutcomeQueueFailed, "could not enqueue the webhook; retry later")
}

func (s *Service) internal(ctx context.Context, env *envelope.Envelope, what string, err error) Result {
	s.log.ErrorContext(ctx, "could not "+what, "source", env.Source, "id", env.ID, "error", err.Error())
	return refuse(http.StatusInternalServerError, OutcomeInternal, "could not "+what)
}

// refused reports whether err is a queue's answer that the same message will never be
// accepted (queue.Error, or any error with a Retryable method, saying no retry
// helps). A cancelled or expired context is not a refusal, nor is an error nobody
// classified.
func refused(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var qe *queue.Error
	if errors.As(err, &qe) {
		return !qe.Retryable
	}
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && !r.Retryable()
}

// retryable reports whether a store error is one a retry can help: an error with a
// Retryable method says so itself (blob.Error); any other is taken as an outage, so
// that the sender retries rather than losing the webhook.
func retryable(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return !errors.Is(err, context.Canceled)
}

func (s *Service) source(ctx context.Context, name string) (*webhook.Source, bool) {
	if s.catalog != nil {
		return s.catalog.Source(ctx, name)
	}
	src, ok := s.sources[name]
	return src, ok
}

func isBadSignature(err error) bool {
	var verr *webhook.Error
	return errors.As(err, &verr) && verr.Code == webhook.CodeBadSignature
}

// acceptedBody is the answer to an accepted webhook: {"id": id}, as encoding/json
// writes it.
func acceptedBody(id string) string {
	if !plainJSON(id) {
		body, _ := json.Marshal(map[string]string{"id": id})
		return string(body)
	}
	return `{"id":"` + id + `"}`
}

// plainJSON reports whether s is written as it is inside a JSON string by
// encoding/json: printable ASCII other than '"', '\\', '<', '>' and '&'.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// attrBytes is what SQS counts of the message attributes: name, type and value.
func attrBytes(attrs map[string]string) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len("String") + len(v)
	}
	return n
}

func refuse(status int, code, msg string) Result {
	body, _ := json.Marshal(map[string]string{"error": msg, "code": code})
	return Result{Status: status, Body: body, Outcome: code}
}
