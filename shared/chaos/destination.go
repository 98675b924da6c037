package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/forward"
)

// destinationNames are the destinations of a run, in route order: the first
// Config.Destinations of them. Each is its own host (breaker) behind its own route:
// orders and analytics take every event; crm takes, through a content filter, the
// events whose body says "fan": 3.
var destinationNames = []string{"orders", "analytics", "crm"}

// destination is one downstream API behind a forward handler, as an http Doer. It
// honours Idempotency-Key like a real idempotent API: the first successful request
// under a key applies the event, a later one under the same key is a raw
// re-delivery it absorbs. Effects are counted per event and destination, the event
// recognised by its body, so that an event sent under two different keys shows up as
// doubled. Each destination has its own outage.
type destination struct {
	s                    *sim
	name                 string
	applied              map[string]bool // Idempotency-Keys applied
	outageFrom, outageTo time.Time
}

// url is where its route forwards; the destination is in-process.
func (d *destination) url() string { return "http://" + d.name + ".internal/hooks" }

// down reports whether the destination is in its outage.
func (d *destination) down() bool {
	now := d.s.clock.Now()
	return !d.outageFrom.IsZero() && !now.Before(d.outageFrom) && now.Before(d.outageTo)
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
	if !slices.Contains(ev.dests, d.name) {
		s.fail(fmt.Errorf("destination %s: called for %s, which does not go there", d.name, ev.key))
		return respond(http.StatusBadRequest), nil
	}
	if s.completed[ev.key] || s.delivered[ev.key+" "+d.name] {
		// Tenaz recorded this event completed (or this destination done) and still
		// called the destination again.
		ev.repeated[d.name] = true
	}
	key := req.Header.Get(forward.HeaderIdempotencyKey)
	status, timedOut, apply := http.StatusOK, false, true
	switch {
	case d.down():
		status, apply = http.StatusServiceUnavailable, false
	case ev.poison[d.name]:
		status, apply = http.StatusBadRequest, false
	case ev.stubborn[d.name] && !s.fixed:
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
		return nil, fmt.Errorf("POST %s: no answer within %v: %w", d.url(), s.cfg.TimeoutAfter, context.DeadlineExceeded)
	}
	return respond(status), nil
}

// apply performs ev's effect unless key was applied before.
func (d *destination) apply(ev *event, key string) {
	if d.s.defects.noDedupe {
		ev.effects[d.name]++
		return
	}
	if d.applied[key] {
		d.s.led.Redeliveries++
		return
	}
	d.applied[key] = true
	ev.effects[d.name]++
}

func respond(status int) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader("")),
	}
}
