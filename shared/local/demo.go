package local

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/tenaz/tenaz/shared/forward"
)

// Demo destination modes.
const (
	ModeHealthy = "healthy" // 200
	ModeFlaky   = "flaky"   // 503 for FailPercent of requests, else 200
	ModeSlow    = "slow"    // 200 after SlowMs
	ModeDown    = "down"    // 503 for everything
	ModeReject  = "reject"  // 400 for everything: permanent failures
)

// DemoMode is the demo destination's behaviour.
type DemoMode struct {
	Mode        string `json:"mode"`
	FailPercent int    `json:"failPercent"` // flaky: 0..100
	SlowMs      int    `json:"slowMs"`      // slow: delay in ms
}

// Demo is a destination that records what it receives. An effect is the first 2xx
// answer for an Idempotency-Key; later requests with the same key are counted as
// repeats and not applied again, as an idempotent API does.
type Demo struct {
	mu       sync.Mutex
	mode     DemoMode
	requests int
	effects  map[string]int // key -> requests answered 2xx
	repeats  int
	rnd      func() float64
}

// NewDemo returns a healthy demo destination.
func NewDemo() *Demo {
	return &Demo{mode: DemoMode{Mode: ModeHealthy}, effects: map[string]int{}, rnd: rand.Float64}
}

// SetMode switches the behaviour.
func (d *Demo) SetMode(m DemoMode) error {
	switch m.Mode {
	case ModeHealthy, ModeDown, ModeReject:
	case ModeFlaky:
		if m.FailPercent < 0 || m.FailPercent > 100 {
			return fmt.Errorf("failPercent %d outside 0..100", m.FailPercent)
		}
	case ModeSlow:
		if m.SlowMs < 0 || m.SlowMs > 120000 {
			return fmt.Errorf("slowMs %d outside 0..120000", m.SlowMs)
		}
	default:
		return fmt.Errorf("unknown mode %q", m.Mode)
	}
	d.mu.Lock()
	d.mode = m
	d.mu.Unlock()
	return nil
}

// DemoStats are what the demo destination saw.
type DemoStats struct {
	Mode     DemoMode `json:"mode"`
	Requests int      `json:"requests"` // every request, whatever the answer
	Effects  int      `json:"effects"`  // distinct keys applied
	Repeats  int      `json:"repeats"`  // 2xx requests for a key already applied
}

// Stats returns the counters.
func (d *Demo) Stats() DemoStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return DemoStats{Mode: d.mode, Requests: d.requests, Effects: len(d.effects), Repeats: d.repeats}
}

// Applied returns how many 2xx requests key received (0 when never applied).
func (d *Demo) Applied(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.effects[key]
}

// ServeHTTP answers a forwarded webhook according to the mode.
func (d *Demo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.requests++
	m := d.mode
	fail := m.Mode == ModeFlaky && d.rnd()*100 < float64(m.FailPercent)
	d.mu.Unlock()

	status := http.StatusOK
	switch {
	case m.Mode == ModeDown || fail:
		status = http.StatusServiceUnavailable
	case m.Mode == ModeReject:
		status = http.StatusBadRequest
	case m.Mode == ModeSlow:
		select {
		case <-time.After(time.Duration(m.SlowMs) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	if status == http.StatusOK {
		key := r.Header.Get(forward.HeaderIdempotencyKey)
		d.mu.Lock()
		if d.effects[key] > 0 {
			d.repeats++
		}
		d.effects[key]++
		d.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"mode": m.Mode})
}
