package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Defaults and limits.
const (
	// DefaultMaxBodyBytes is the default webhook body limit: 256 KiB.
	DefaultMaxBodyBytes = 256 << 10
	// MaxMessageBytes is the largest SQS message (1 MiB): body, envelope and
	// message attributes together must fit in it.
	MaxMessageBytes = 1 << 20
)

// Sender is the queue call ingest makes.
type Sender interface {
	Send(ctx context.Context, m queue.Message) (id string, err error)
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
	Sources      webhook.Sources  // verified sources by route name (required unless Catalog is set)
	Catalog      Catalog          // when set, used instead of Sources
	Queue        Sender           // the main queue (required)
	MaxBodyBytes int              // body limit in bytes; default DefaultMaxBodyBytes
	Now          func() time.Time // clock; default time.Now
	Log          *slog.Logger     // default slog.Default()
	// Observe, when set, is told of every request's outcome (the local live view
	// counts with it). It must not block.
	Observe func(Result)
}

// Service handles webhook requests.
type Service struct {
	sources webhook.Sources
	catalog Catalog
	queue   Sender
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
	s := &Service{sources: o.Sources, catalog: o.Catalog, queue: o.Queue, maxBody: o.MaxBodyBytes, now: o.Now, log: o.Log, observe: o.Observe}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
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
	data, err := envelope.Encode(env)
	if err != nil {
		// Verify guarantees id and type; this is a bug, not the sender's fault.
		res := refuse(http.StatusInternalServerError, "internal", "could not build the queue message")
		res.ID, res.Type = ev.ID, ev.Type
		return res
	}
	attrs := env.Attributes()
	if size := len(data) + attrBytes(attrs); size > MaxMessageBytes {
		res := refuse(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "body too large for the queue once wrapped")
		res.ID, res.Type = ev.ID, ev.Type
		return res
	}
	msg := queue.Message{Body: string(data), Attributes: attrs}
	if _, err := s.queue.Send(ctx, msg); err != nil {
		s.log.ErrorContext(ctx, "enqueue failed", "source", req.Source, "id", ev.ID, "error", err.Error())
		res := refuse(http.StatusServiceUnavailable, OutcomeQueueFailed, "could not enqueue the webhook; retry later")
		res.ID, res.Type = ev.ID, ev.Type
		return res
	}
	// The body, {"id": ...}, is written by whoever answers: see serve.
	return Result{Status: http.StatusAccepted, Outcome: OutcomeAccepted, ID: ev.ID, Type: ev.Type}
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
