package chaos

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// small is a run of 200 webhooks over about 200 s with the faults that are rare per
// webhook made frequent enough that a few seeds see every kind of them.
func small(seed int64) Config {
	return Config{
		Seed:              seed,
		Webhooks:          200,
		ArrivalsPerSecond: 1,
		PermanentRate:     0.05,
		StubbornRate:      0.05,
		CrashRate:         0.05,
		TimeoutRate:       0.03,
		Outage:            2 * time.Minute,
	}
}

// runOK runs c and fails the test when the harness failed.
func runOK(t *testing.T, c Config, d defects) Ledger {
	t.Helper()
	led, err := run(c, d)
	if err != nil {
		t.Fatalf("seed %d: %v\n%s", c.Seed, err, led.String())
	}
	return led
}

// Every webhook is acknowledged, then applied exactly once or dead-lettered as
// poison; and the faults really happened, so the verdict is not vacuous.
func TestNothingLostNothingDoubled(t *testing.T) {
	t.Parallel()
	seeds := []int64{1, 2, 3}
	ledgers := make([]Ledger, len(seeds))
	for i, seed := range seeds {
		led := runOK(t, small(seed), defects{})
		ledgers[i] = led
		t.Logf("\n%s", led.String())
		if !led.OK() {
			t.Errorf("seed %d lost %d and doubled %d webhooks:\n%s", seed, len(led.Lost), len(led.Doubled), led.String())
		}
		if led.Acked != led.Webhooks {
			t.Errorf("seed %d: %d of %d webhooks acknowledged", seed, led.Acked, led.Webhooks)
		}
		dead := 0
		for reason, n := range led.DeadLettered {
			dead += n
			if reason != "permanent" {
				t.Errorf("seed %d: %d webhooks left in the dead-letter queue with reason %q after the replay", seed, n, reason)
			}
		}
		if led.Delivered+dead != led.Deliveries || led.Deliveries < 2*led.Webhooks {
			t.Errorf("seed %d: delivered %d + dead-lettered %d != %d deliveries of %d webhooks (2 or 3 each)", seed, led.Delivered, dead, led.Deliveries, led.Webhooks)
		}
		if led.DeadLettered["permanent"] != led.Poison {
			t.Errorf("seed %d: %d webhooks dead-lettered as permanent, %d poison", seed, led.DeadLettered["permanent"], led.Poison)
		}
		// The stubborn deliveries fail until the replay: each must have been
		// dead-lettered (not as permanent) and moved back (one message may name
		// several destinations of a webhook), since none is left but permanent ones.
		if again := sum(led.DeadLetteredBeforeReplay) - led.DeadLetteredBeforeReplay["permanent"]; again < led.Stubborn || (led.Stubborn > 0 && led.Replayed == 0) {
			t.Errorf("seed %d: %d stubborn webhooks, %d dead-lettered for a replay, %d messages replayed", seed, led.Stubborn, again, led.Replayed)
		}
		if led.RefusedRetried == 0 && led.Refused > 0 {
			t.Errorf("seed %d: %d refusals and no webhook acknowledged after one", seed, led.Refused)
		}
	}

	total := func(f func(l *Ledger) int) int {
		n := 0
		for i := range ledgers {
			n += f(&ledgers[i])
		}
		return n
	}
	happened := []struct {
		fault string
		count int
	}{
		{"destination 503", total(func(l *Ledger) int { return l.Unavailable })},
		{"destination timeout", total(func(l *Ledger) int { return l.Timeouts })},
		{"destination 400", total(func(l *Ledger) int { return l.Rejections })},
		{"provider duplicate post", total(func(l *Ledger) int { return l.DuplicatePosts })},
		{"lost delete (SQS redelivery)", total(func(l *Ledger) int { return l.LostDeletes })},
		{"idempotency store throttle", total(func(l *Ledger) int { return l.Throttles })},
		{"breaker store throttle", total(func(l *Ledger) int { return l.BreakerThrottles })},
		{"queue send failure at ingest", total(func(l *Ledger) int { return l.SendFailures })},
		{"webhook refused then acknowledged on retry", total(func(l *Ledger) int { return l.RefusedRetried })},
		{"breaker open", total(func(l *Ledger) int { return l.BreakerOpens })},
		{"raw re-delivery absorbed by the destination", total(func(l *Ledger) int { return l.Redeliveries })},
		{"duplicate absorbed by the idempotency store", total(func(l *Ledger) int { return l.DuplicatesAbsorbed })},
		{"dead letter replayed", total(func(l *Ledger) int { return l.Replayed })},
	}
	for _, b := range Boundaries {
		happened = append(happened, struct {
			fault string
			count int
		}{"crash " + string(b), total(func(l *Ledger) int { return l.Crashes[b] })})
	}
	for _, h := range happened {
		if h.count == 0 {
			t.Errorf("no %s in %d seeds: the run does not test it", h.fault, len(seeds))
		}
	}
}

// The same seed gives the same ledger; another seed another one.
func TestSameSeedSameLedger(t *testing.T) {
	t.Parallel()
	a := runOK(t, small(42), defects{})
	b := runOK(t, small(42), defects{})
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 42 twice, two ledgers:\n%s\n---\n%s", a.String(), b.String())
	}
	if a.String() != b.String() {
		t.Fatal("equal ledgers print differently")
	}
	c := runOK(t, small(43), defects{})
	if reflect.DeepEqual(a, c) {
		t.Fatalf("seeds 42 and 43 gave the same ledger: the seed is not used\n%s", a.String())
	}
}

// The ledger catches real defects: a destination that ignores Idempotency-Key sees
// the re-deliveries a crash forces as second effects; an idempotency store that
// forgets completions lets Tenaz run completed events again; a poller that deletes
// failed records loses them.
func TestLedgerCatchesDefects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		defects     defects
		wantDoubled string // a substring of every Doubled entry; "" for none expected
		wantLost    string // a substring of every Lost entry; "" for none expected
	}{
		{"destination without dedupe", defects{noDedupe: true}, "times", ""},
		{"store forgets completions", defects{forgetCompletions: true}, "called again after its completion was recorded", ""},
		{"poller deletes failed records", defects{deleteFailures: true}, "", "dead-letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			led := runOK(t, small(5), tt.defects)
			if led.OK() {
				t.Fatalf("the ledger found nothing wrong:\n%s", led.String())
			}
			check := func(what string, got []string, want string) {
				t.Helper()
				if want == "" {
					if len(got) > 0 {
						t.Errorf("%s %d, want none: %v", what, len(got), got)
					}
					return
				}
				if len(got) == 0 {
					t.Errorf("nothing %s, want some", what)
				}
				for _, g := range got {
					if !strings.Contains(g, want) {
						t.Errorf("%s %q, want it to say %q", what, g, want)
					}
				}
			}
			check("doubled", led.Doubled, tt.wantDoubled)
			check("lost", led.Lost, tt.wantLost)
			if s := led.String(); !strings.Contains(s, "seed 5:") || !strings.Contains(s, "doubled "+strconv.Itoa(len(led.Doubled))) {
				t.Errorf("the ledger does not print its seed and verdict:\n%s", s)
			}
			t.Logf("\n%s", led.String())
		})
	}
}

func TestConfigDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	c, err := Config{CrashRate: -1, Outage: -1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Webhooks != DefaultWebhooks || c.TransientRate != DefaultTransientRate || c.VisibilityTimeout != DefaultVisibilityTimeout {
		t.Errorf("defaults not filled in: %+v", c)
	}
	if c.CrashRate != 0 || c.Outage != 0 {
		t.Errorf("negative values must turn the fault off: crash rate %v, outage %v", c.CrashRate, c.Outage)
	}
	for _, bad := range []Config{
		{Webhooks: -1},
		{ThrottleRate: 1.5},
		{SendFailRate: 1},
		{InvocationTimeout: -time.Second},
	} {
		if _, err := Run(bad); err == nil {
			t.Errorf("Run(%+v) accepted an invalid config", bad)
		}
	}
}

// One fault at a time, everything else off, one destination: the ledger's counts
// follow from the fault alone.
func TestSingleFaults(t *testing.T) {
	t.Parallel()
	const n = 100
	quiet := func(tune func(c *Config)) Config {
		off := -1.0
		c := Config{Seed: 9, Webhooks: n, Destinations: 1, ArrivalsPerSecond: 1, PermanentRate: off, StubbornRate: off, TransientRate: off,
			TimeoutRate: off, DuplicateRate: off, SendFailRate: off, LostDeleteRate: off, CrashRate: off, ThrottleRate: off, Outage: -1}
		if tune != nil {
			tune(&c)
		}
		return c
	}
	tests := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, l *Ledger)
	}{
		{"no fault", quiet(nil), func(t *testing.T, l *Ledger) {
			// Every webhook delivered at the first try: one post, one call, nothing
			// absorbed, deferred or dead-lettered.
			if l.Delivered != n || l.DestinationCalls != n || l.Posts != n || l.Redeliveries != 0 || l.DuplicatesAbsorbed != 0 ||
				l.Deferred != 0 || l.DeadLetterMessages != 0 || l.BreakerOpens != 0 {
				t.Error("a run without faults is not clean")
			}
		}},
		{"outage", quiet(func(c *Config) { c.Outage = 4 * time.Minute }), func(t *testing.T, l *Ledger) {
			// The breaker opens after the threshold's failures; then only one probe
			// per open period (60 s) reaches the destination while it is down.
			if l.BreakerOpens == 0 || l.Deferred == 0 {
				t.Error("a 4-minute outage did not open the breaker")
			}
			if maxDown := 5 + 4 + 1; l.Unavailable > maxDown {
				t.Errorf("%d calls answered 503 during a 4-minute outage; want at most %d (threshold, then one probe a minute)", l.Unavailable, maxDown)
			}
			if l.Delivered != n || l.DeadLetterMessages != 0 {
				t.Error("an outage the breaker rode out left webhooks undelivered")
			}
		}},
		{"provider duplicates", quiet(func(c *Config) { c.DuplicateRate = 0.5 }), func(t *testing.T, l *Ledger) {
			// Every extra post is enqueued and absorbed by the idempotency store,
			// before the destination sees it.
			if l.DuplicatePosts == 0 || l.DuplicatesAbsorbed != l.DuplicatePosts || l.DestinationCalls != n || l.Posts != n+l.DuplicatePosts {
				t.Errorf("%d duplicate posts, %d absorbed, %d calls", l.DuplicatePosts, l.DuplicatesAbsorbed, l.DestinationCalls)
			}
		}},
		{"lost deletes", quiet(func(c *Config) { c.LostDeleteRate = 0.3 }), func(t *testing.T, l *Ledger) {
			// A message whose delete was lost comes back and is absorbed as a
			// duplicate (or its delete is lost again, and so on).
			if l.LostDeletes == 0 || l.DuplicatesAbsorbed == 0 || l.DuplicatesAbsorbed > l.LostDeletes || l.DestinationCalls != n {
				t.Errorf("%d lost deletes, %d duplicates absorbed, %d calls", l.LostDeletes, l.DuplicatesAbsorbed, l.DestinationCalls)
			}
		}},
		{"send failures", quiet(func(c *Config) { c.SendFailRate = 0.3 }), func(t *testing.T, l *Ledger) {
			// Every refused post is retried by its provider until one is accepted:
			// one message per webhook, one call.
			if l.SendFailures == 0 || l.Refused != l.SendFailures || l.Posts != n+l.Refused || l.DestinationCalls != n || l.RefusedRetried == 0 {
				t.Errorf("%d send failures, %d refused, %d posts, %d calls", l.SendFailures, l.Refused, l.Posts, l.DestinationCalls)
			}
		}},
		{"slow timeouts", quiet(func(c *Config) { c.TimeoutRate = 0.3; c.TimeoutAfter = 25 * time.Second }), func(t *testing.T, l *Ledger) {
			// Two 25-second timeouts overrun a 30-second invocation: its answer is
			// discarded, and what it did is absorbed on the next delivery.
			if l.Timeouts == 0 || l.InvocationTimeouts == 0 || l.Delivered != n {
				t.Errorf("%d timeouts, %d invocation timeouts, %d delivered", l.Timeouts, l.InvocationTimeouts, l.Delivered)
			}
		}},
		{"crashes", quiet(func(c *Config) { c.CrashRate = 0.1 }), func(t *testing.T, l *Ledger) {
			// A crash after the destination call or before complete makes the
			// destination see the event again; its Idempotency-Key absorbs it.
			for _, b := range []Boundary{AfterClaim, AfterDestination, BeforeComplete, AfterComplete} {
				if l.Crashes[b] == 0 {
					t.Errorf("no crash %s", b)
				}
			}
			if want := l.Crashes[AfterDestination] + l.Crashes[BeforeComplete]; l.Redeliveries < want || l.Delivered != n {
				t.Errorf("%d raw re-deliveries after %d crashes between the call and the completion; %d delivered", l.Redeliveries, want, l.Delivered)
			}
		}},
		{"throttles", quiet(func(c *Config) { c.ThrottleRate = 0.2 }), func(t *testing.T, l *Ledger) {
			if l.Throttles == 0 || l.BreakerThrottles == 0 || l.Retried == 0 || l.Delivered != n {
				t.Errorf("%d store throttles, %d breaker store throttles, %d retried, %d delivered", l.Throttles, l.BreakerThrottles, l.Retried, l.Delivered)
			}
		}},
		{"poison", quiet(func(c *Config) { c.PermanentRate = 0.2 }), func(t *testing.T, l *Ledger) {
			// Each poison webhook is called once, rejected and dead-lettered as
			// permanent; it is not replayed.
			if l.Poison == 0 || l.Rejections != l.Poison || l.DeadLettered["permanent"] != l.Poison || l.Replayed != 0 || l.Delivered != n-l.Poison {
				t.Errorf("%d poison, %d rejections, %v dead-lettered, %d replayed", l.Poison, l.Rejections, l.DeadLettered, l.Replayed)
			}
		}},
		{"stubborn, replayed", quiet(func(c *Config) { c.StubbornRate = 0.1 }), func(t *testing.T, l *Ledger) {
			// Each is dead-lettered by Tenaz as exhausted, with its reason: failed
			// probes stop giving attempts back before the queue's maxReceiveCount.
			if l.Stubborn == 0 || l.DeadLetteredBeforeReplay["exhausted"] != l.Stubborn || l.DeadLetteredBeforeReplay[ReasonMaxReceiveCount] != 0 ||
				l.Replayed < l.Stubborn || l.Delivered != n {
				t.Errorf("%d stubborn, %v dead-lettered before the replay, %d replayed, %d delivered", l.Stubborn, l.DeadLetteredBeforeReplay, l.Replayed, l.Delivered)
			}
		}},
		{"stubborn, not replayed", quiet(func(c *Config) { c.StubbornRate = 0.1; c.NoReplay = true }), func(t *testing.T, l *Ledger) {
			// Not lost: in the dead-letter queue with their reason.
			if l.Stubborn == 0 || sum(l.DeadLettered) != l.Stubborn || l.DeadLettered["exhausted"] != l.Stubborn || l.Replayed != 0 || l.Delivered != n-l.Stubborn {
				t.Errorf("%d stubborn, %v dead-lettered, %d replayed", l.Stubborn, l.DeadLettered, l.Replayed)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			led := runOK(t, tt.cfg, defects{})
			if !led.OK() || led.Acked != n {
				t.Errorf("lost or doubled, or not all acknowledged")
			}
			tt.check(t, &led)
			if t.Failed() || testing.Verbose() {
				t.Logf("\n%s", led.String())
			}
		})
	}
}

func TestProviderBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n        int
		r        float64
		from, to time.Duration
	}{
		{1, 0, 5 * time.Second, 5 * time.Second},
		{1, 0.999, 5 * time.Second, 10 * time.Second},
		{3, 0.5, 20 * time.Second, 40 * time.Second},
		{7, 0.5, 5 * time.Minute, 10 * time.Minute},
		{50, 0.999, 5 * time.Minute, 10 * time.Minute},
	}
	for _, tt := range tests {
		if d := providerBackoff(tt.n, tt.r); d < tt.from || d > tt.to {
			t.Errorf("providerBackoff(%d, %v) = %v, want within [%v, %v]", tt.n, tt.r, d, tt.from, tt.to)
		}
	}
}
