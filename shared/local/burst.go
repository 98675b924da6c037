package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Burst asks for a burst of signed sample webhooks.
type Burst struct {
	N int `json:"n"` // webhooks, 1..BurstMax, spread over the sources in turn
	// Dup is the probability in [0,1] that a webhook is posted a second time, as
	// providers do when they retry.
	Dup    float64 `json:"dup"`
	Source string  `json:"source,omitempty"` // only this source; default every source
}

// BurstResult counts what a burst posted.
type BurstResult struct {
	Webhooks   int      `json:"webhooks"`   // distinct webhooks
	Posts      int      `json:"posts"`      // requests, duplicates included
	Duplicates int      `json:"duplicates"` // second posts
	Accepted   int      `json:"accepted"`   // posts answered 202
	Refused    int      `json:"refused"`    // posts answered otherwise or not at all
	Errors     []string `json:"errors,omitempty"`
	ElapsedMs  int64    `json:"elapsedMs"`
}

// Limits of a burst.
const (
	BurstMax         = 5000 // webhooks in one burst
	burstConcurrency = 4    // posts in flight at once
	burstErrors      = 5    // distinct errors a result keeps
)

// ErrBadBurst marks a burst request outside the limits; retrying it cannot help.
var ErrBadBurst = errors.New("bad burst request")

// Burst posts b.N webhooks with fresh ids, each a second time with probability
// b.Dup, burstConcurrency at a time. It stops early when ctx ends.
func (s *Sender) Burst(ctx context.Context, b Burst) (BurstResult, error) {
	if b.N < 1 || b.N > BurstMax {
		return BurstResult{}, fmt.Errorf("%w: n %d outside 1..%d", ErrBadBurst, b.N, BurstMax)
	}
	if !(b.Dup >= 0 && b.Dup <= 1) {
		return BurstResult{}, fmt.Errorf("%w: dup %v outside [0,1]", ErrBadBurst, b.Dup)
	}
	names := s.Sources()
	if b.Source != "" {
		if _, ok := s.sources[b.Source]; !ok {
			return BurstResult{}, fmt.Errorf("%w: no source %q", ErrBadBurst, b.Source)
		}
		names = []string{b.Source}
	}
	if len(names) == 0 {
		return BurstResult{}, fmt.Errorf("%w: no sources to send for", ErrBadBurst)
	}

	type post struct{ source, id string }
	start := time.Now()
	var (
		mu  sync.Mutex
		res = BurstResult{Webhooks: b.N}
	)
	posts := make(chan post)
	var wg sync.WaitGroup
	for range burstConcurrency {
		wg.Go(func() {
			for p := range posts {
				sent, err := s.Send(ctx, p.source, p.id)
				mu.Lock()
				res.Posts++
				switch {
				case err != nil:
					res.Refused++
					res.addError(err.Error())
				case sent.Status != 202:
					res.Refused++
					res.addError(fmt.Sprintf("%s: %d %s", p.source, sent.Status, sent.Body))
				default:
					res.Accepted++
				}
				mu.Unlock()
			}
		})
	}
	s.mu.Lock()
	plan := make([]post, 0, b.N)
	dups := 0
	for i := range b.N {
		p := post{source: names[i%len(names)], id: s.newID()}
		plan = append(plan, p)
		if s.rnd() < b.Dup {
			plan = append(plan, p)
			dups++
		}
	}
	s.mu.Unlock()
feed:
	for _, p := range plan {
		select {
		case posts <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(posts)
	wg.Wait()
	res.Duplicates = dups
	res.ElapsedMs = time.Since(start).Milliseconds()
	return res, ctx.Err()
}

func (r *BurstResult) addError(e string) {
	if len(r.Errors) >= burstErrors {
		return
	}
	for _, have := range r.Errors {
		if have == e {
			return
		}
	}
	r.Errors = append(r.Errors, e)
}
