package chaos

import (
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/webhook"
)

// sourcesJSON configures the providers of the run, one per signature scheme family:
// Stripe (timestamped HMAC), GitHub (plain HMAC, id and type in headers) and a
// Standard Webhooks sender (id in the signed content).
var sourcesJSON = []byte(`{
	"stripe": {"scheme": "stripe", "secrets": ["whsec_chaos_stripe_secret"]},
	"github": {"scheme": "github", "secrets": ["chaos-github-secret"]},
	"acme":   {"scheme": "standard-webhooks", "secrets": ["whsec_` + base64.StdEncoding.EncodeToString([]byte("chaos-standard-webhooks-key")) + `"]}
}`)

// sourceNames are the sources webhooks are drawn from, in a fixed order.
var sourceNames = []string{"stripe", "github", "acme"}

// event is one webhook a provider sends, and what the ledger learns of it.
type event struct {
	source, id, typ string
	key             string // source:id, the idempotency key Tenaz must use
	body            []byte // the same on every post and retry
	arrival         time.Time
	dests           []string        // the destinations it goes to, in route order
	poison          map[string]bool // destinations that reject it with 400
	stubborn        map[string]bool // destinations that fail it while the chaos lasts

	acked    bool            // a post was answered 2xx
	refused  bool            // a post was answered 5xx
	effects  map[string]int  // applications, by destination
	repeated map[string]bool // destinations called after Tenaz recorded them done
}

// newEvent builds webhook i of source: its id, type and body.
// fan, when not 0, is written into the body as "fan" (the crm route's filter).
func newEvent(i int, source string, at time.Time, fan int) *event {
	e := &event{source: source, id: fmt.Sprintf("evt_%06d", i), arrival: at,
		poison: map[string]bool{}, stubborn: map[string]bool{}, effects: map[string]int{}, repeated: map[string]bool{}}
	var body map[string]any
	switch source {
	case "stripe":
		e.typ = "payment_intent.succeeded"
		body = map[string]any{"id": e.id, "object": "event", "type": e.typ, "created": at.Unix(),
			"data": map[string]any{"object": map[string]any{"id": "pi_" + e.id, "amount": 1000 + i, "currency": "usd"}}}
	case "github":
		e.typ = "push"
		body = map[string]any{"ref": "refs/heads/main", "after": e.id, "size": i}
	default:
		e.typ = "invoice.paid"
		body = map[string]any{"type": e.typ, "timestamp": at.UTC().Format(time.RFC3339), "data": map[string]any{"id": e.id, "n": i}}
	}
	if fan != 0 {
		body["fan"] = fan
	}
	e.body, _ = json.Marshal(body) // maps of strings and numbers always marshal
	e.key = e.source + ":" + e.id
	return e
}

// headers returns the provider's unsigned headers for e.
func (e *event) headers() map[string]string {
	h := map[string]string{"content-type": "application/json", "user-agent": "chaos-provider"}
	switch e.source {
	case "github":
		h["x-github-delivery"], h["x-github-event"] = e.id, e.typ
	case "acme":
		h["webhook-id"] = e.id
	}
	return h
}

// post is one scheduled post of a webhook by its provider.
type post struct {
	at      time.Time
	seq     int
	ev      *event
	dup     bool              // a duplicate delivery of the same signed webhook
	retries int               // refusals so far of this delivery
	signed  map[string]string // headers to post as they are; nil: sign afresh
}

// posts is the providers' schedule, earliest first.
type posts []*post

func (p posts) Len() int { return len(p) }
func (p posts) Less(i, j int) bool {
	if !p[i].at.Equal(p[j].at) {
		return p[i].at.Before(p[j].at)
	}
	return p[i].seq < p[j].seq
}
func (p posts) Swap(i, j int) { p[i], p[j] = p[j], p[i] }
func (p *posts) Push(x any)   { *p = append(*p, x.(*post)) }
func (p *posts) Pop() any {
	old := *p
	x := old[len(old)-1]
	*p = old[:len(old)-1]
	return x
}

// schedule adds a post.
func (s *sim) schedule(p *post) {
	s.seq++
	p.seq = s.seq
	heap.Push(&s.pending, p)
}

// postDue posts every scheduled post that is due, earliest first.
func (s *sim) postDue() {
	for s.pending.Len() > 0 && !s.pending[0].at.After(s.clock.Now()) {
		s.send(heap.Pop(&s.pending).(*post))
	}
}

// send posts p to ingest as the provider would and schedules what follows: its
// duplicates after a first post, a retry after a refusal.
func (s *sim) send(p *post) {
	ev, now := p.ev, s.clock.Now()
	headers := p.signed
	if headers == nil {
		headers = ev.headers()
		if err := s.sources[ev.source].Sign(headers, ev.body, now); err != nil {
			s.fail(fmt.Errorf("sign %s: %w", ev.key, err))
			return
		}
	}
	first := !p.dup && p.retries == 0
	if s.chaos && s.faults.Float64() < s.cfg.SendFailRate {
		s.main.FailNext(queue.OpSend, 1, errThrottled)
	}
	res := s.ingest.Handle(context.Background(), ingest.Request{
		Method: http.MethodPost, Source: ev.source, Headers: maps.Clone(headers), Body: ev.body,
	})
	s.main.FailNext(queue.OpSend, 0, nil)
	s.led.Posts++
	if p.dup && p.retries == 0 {
		s.led.DuplicatePosts++
	}
	if res.Outcome == ingest.OutcomeQueueFailed {
		s.led.SendFailures++
	}
	switch {
	case res.Status >= 200 && res.Status < 300:
		ev.acked = true
	default:
		if res.Status >= 500 {
			s.led.Refused++
			ev.refused = true
		} else {
			s.led.Rejected++
		}
		// Providers retry with a growing delay, re-signing every attempt.
		p.retries++
		p.signed = nil
		p.at = now.Add(providerBackoff(p.retries, s.sender.Float64()))
		s.schedule(p)
	}
	if first && s.sender.Float64() < s.cfg.DuplicateRate {
		copies := 1
		if s.sender.Float64() < 0.3 {
			copies = 2
		}
		for range copies {
			delay := 200*time.Millisecond + time.Duration(s.sender.Float64()*float64(90*time.Second))
			s.schedule(&post{at: now.Add(delay).Truncate(time.Millisecond), ev: ev, dup: true, signed: headers})
		}
	}
}

// providerBackoff is a provider's wait before its n-th retry: 10 s doubling up to
// 10 min, the upper half jittered by r in [0,1).
func providerBackoff(n int, r float64) time.Duration {
	d := 10 * time.Minute
	if n < 7 {
		d = min(d, 10*time.Second<<(n-1))
	}
	return (d/2 + time.Duration(r*float64(d/2))).Truncate(time.Millisecond)
}

// errThrottled is the cause of an injected queue failure; the queue wraps it in a
// retryable *queue.Error.
var errThrottled = errors.New("chaos: the queue throttled the call")

// parseSources parses the providers' configuration.
func parseSources() (webhook.Sources, error) { return webhook.ParseSources(sourcesJSON) }
