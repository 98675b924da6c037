package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tenaz/tenaz/shared/forward"
)

// destinationURL is where the routes forward; the destination is in-process.
const destinationURL = "http://orders.internal/hooks"

// dependency is the destination's breaker name.
const dependency = "orders.internal"

// destination is the downstream API behind the forward handler, as an http Doer. It
// honours Idempotency-Key like a real idempotent API: the first successful request
// under a key applies the event, a later one under the same key is a raw
// re-delivery it absorbs. Effects are counted per event, recognised by its body, so
// that an event sent under two different keys shows up as doubled.
type destination struct {
	s       *sim
	applied map[string]bool // Idempotency-Keys applied
}

// Do answers one forwarded request.
func (d *destination) Do(req *http.Request) (*http.Response, error) {
	s := d.s
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("destination: read body: %w", err)
	}
	s.led.DestinationCalls++
	ev := s.byBody[string(body)]
	if ev == nil {
		s.fail(fmt.Errorf("destination: a request with a body no provider sent (%d bytes)", len(body)))
		return respond(http.StatusBadRequest), nil
	}
	if s.completed[ev.key] {
		// Tenaz recorded this event completed and still ran its handler again.
		ev.repeated = true
	}
	key := req.Header.Get(forward.HeaderIdempotencyKey)
	status, timedOut, apply := http.StatusOK, false, true
	switch {
	case s.down():
		status, apply = http.StatusServiceUnavailable, false
	case ev.poison:
		status, apply = http.StatusBadRequest, false
	case ev.stubborn && !s.fixed:
		status, apply = http.StatusServiceUnavailable, false
	case s.chaos:
		switch r := s.faults.Float64(); {
		case r < s.cfg.TransientRate:
			status, apply = http.StatusServiceUnavailable, false
		case r < s.cfg.TransientRate+s.cfg.TimeoutRate:
			timedOut = true
			apply = s.faults.Float64() < s.cfg.AppliedOnTimeoutRate
		}
	}
	if apply {
		d.apply(ev, key)
	}
	switch {
	case timedOut:
		s.led.Timeouts++
		s.clock.Advance(s.cfg.TimeoutAfter) // the call took that long
	case status == http.StatusServiceUnavailable:
		s.led.Unavailable++
	case status == http.StatusBadRequest:
		s.led.Rejections++
	}
	s.crashPoint(AfterDestination)
	if timedOut {
		return nil, fmt.Errorf("POST %s: no answer within %v: %w", destinationURL, s.cfg.TimeoutAfter, context.DeadlineExceeded)
	}
	return respond(status), nil
}

// apply performs ev's effect unless key was applied before.
func (d *destination) apply(ev *event, key string) {
	if d.s.defects.noDedupe {
		ev.effects++
		return
	}
	if d.applied[key] {
		d.s.led.Redeliveries++
		return
	}
	d.applied[key] = true
	ev.effects++
}

func respond(status int) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader("")),
	}
}
