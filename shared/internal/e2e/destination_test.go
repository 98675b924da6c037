//go:build integration

package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/forward"
)

// answer is what the destination does with the n-th request carrying a key that has
// no stored answer yet.
type answer struct {
	status int // a 2xx status applies the effect and stores the answer under the key
	// retryAfter, when set, is sent as the Retry-After header.
	retryAfter string
	// hold, when set, delays the answer until it is closed. If the caller goes away
	// first (it timed out or was killed), the answer never arrives; an effect that was
	// applied stays applied.
	hold <-chan struct{}
}

// delivery is one request the destination received.
type delivery struct {
	key      string // Idempotency-Key
	attempt  string // X-Tenaz-Attempt
	body     string
	ctype    string // Content-Type
	header   http.Header
	at       time.Time
	status   int  // the status it was given (a replay gets the stored one)
	replay   bool // answered from the stored answer; no effect applied
	answered bool // the answer was written before the caller went away
}

// destination is a downstream HTTP API that honours Idempotency-Key like a real
// idempotent API: the first request with a key that it answers 2xx applies the effect
// once and stores the answer; any later request with that key gets the stored answer
// and applies nothing. It records every raw delivery, so a test can tell raw
// re-deliveries (which a crash can cause) from effects (which must happen once).
type destination struct {
	url string

	mu         sync.Mutex
	script     func(n int) answer
	deliveries []*delivery
	effects    map[string]int // key → effects applied
	stored     map[string]int // key → stored 2xx status
	tries      map[string]int // key → requests without a stored answer
}

// newDestination starts a destination answering by script; nil answers 200.
func newDestination(t *testing.T, script func(n int) answer) *destination {
	t.Helper()
	if script == nil {
		script = func(int) answer { return answer{status: http.StatusOK} }
	}
	d := &destination{script: script, effects: map[string]int{}, stored: map[string]int{}, tries: map[string]int{}}
	closing := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.serve(w, r, string(body), closing)
	}))
	t.Cleanup(func() {
		close(closing) // release held answers so Close can return
		srv.Close()
	})
	d.url = srv.URL
	return d
}

func (d *destination) serve(w http.ResponseWriter, r *http.Request, body string, closing <-chan struct{}) {
	dl := &delivery{
		key:     r.Header.Get(forward.HeaderIdempotencyKey),
		attempt: r.Header.Get(forward.HeaderAttempt),
		body:    body,
		ctype:   r.Header.Get("Content-Type"),
		header:  r.Header.Clone(),
		at:      time.Now(),
	}
	var a answer
	d.mu.Lock()
	d.deliveries = append(d.deliveries, dl)
	switch status, ok := d.stored[dl.key]; {
	case dl.key == "":
		a = answer{status: http.StatusBadRequest}
	case ok:
		a, dl.replay = answer{status: status}, true
	default:
		d.tries[dl.key]++
		a = d.script(d.tries[dl.key])
		if a.status >= 200 && a.status <= 299 {
			d.effects[dl.key]++
			d.stored[dl.key] = a.status
		}
	}
	dl.status = a.status
	d.mu.Unlock()

	if a.hold != nil {
		select {
		case <-a.hold:
		case <-r.Context().Done():
			return // the caller is gone: the answer never arrives
		case <-closing:
			return
		}
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, `{"ok":true}`)
	d.mu.Lock()
	dl.answered = true
	d.mu.Unlock()
}

// received returns a copy of the requests that carried key, in arrival order.
func (d *destination) received(key string) []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []delivery
	for _, dl := range d.deliveries {
		if dl.key == key {
			out = append(out, *dl)
		}
	}
	return out
}

// raw is how many requests the destination received in all.
func (d *destination) raw() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.deliveries)
}

// effectsOf is how many times the effect of key was applied.
func (d *destination) effectsOf(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.effects[key]
}

// keys returns the keys with an applied effect.
func (d *destination) keys() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.effects))
	for k, n := range d.effects {
		out[k] = n
	}
	return out
}
