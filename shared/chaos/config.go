package chaos

import (
	"fmt"
	"time"
)

// Config describes one chaos run. Zero fields take their defaults. Every rate is a
// probability in [0, 1]: 0 takes the default, a negative value turns that fault off.
type Config struct {
	// Seed seeds every random choice of the run.
	Seed int64
	// Webhooks is the number of distinct webhooks the providers send. Default 2000.
	Webhooks int
	// ArrivalsPerSecond is the providers' average sending rate, on the fake clock
	// (Poisson arrivals). Default 20.
	ArrivalsPerSecond float64

	// TransientRate: per destination call, the destination answers 503. Default 0.05.
	TransientRate float64
	// TimeoutRate: per destination call, the call times out after TimeoutAfter.
	// Default 0.03.
	TimeoutRate float64
	// AppliedOnTimeoutRate: of the calls that time out, the share the destination
	// applied before the caller gave up. Default 0.5.
	AppliedOnTimeoutRate float64
	// TimeoutAfter is how long a call that times out takes, on the fake clock.
	// Default 10 s (the forward handler's timeout).
	TimeoutAfter time.Duration
	// PermanentRate: per webhook, the destination rejects it with 400 on every call
	// (a poison event: it must end in the dead-letter queue, reason "permanent").
	// Default 0.02.
	PermanentRate float64
	// StubbornRate: per webhook, the destination answers 503 to it on every call
	// until the dead-letter queue is replayed at the end (a defect of the
	// destination, fixed by then), so it exhausts its attempts, is dead-lettered
	// with reason "exhausted" and is delivered by the replay. Default 0.005.
	StubbornRate float64
	// DuplicateRate: per webhook, the provider posts the same signed webhook again,
	// once or twice, within 90 s. Default 0.1.
	DuplicateRate float64
	// SendFailRate: per post to ingest, the queue refuses the send, ingest answers
	// 503 and the provider retries later. Default 0.03.
	SendFailRate float64
	// LostDeleteRate: per record the processor acknowledges, the delete fails, so
	// the queue delivers the message again after its visibility timeout.
	// Default 0.03.
	LostDeleteRate float64
	// CrashRate: per step boundary an invocation crosses (after claim, after the
	// destination call, before and after complete, after a dead-letter send), the
	// invocation dies there. Default 0.01.
	CrashRate float64
	// ThrottleRate: per idempotency or breaker store operation, the store is
	// throttled (ErrUnavailable). Default 0.02.
	ThrottleRate float64
	// Outage is how long each destination is down (503 to every call), once,
	// starting at a random time in the first half of the arrivals (its own for each
	// destination); long enough to open the breaker. Default 4 min; negative: no outage.
	Outage time.Duration
	// ChaosTail is how long the faults go on after the last arrival (or the end of
	// the outage, if later). Default 10 min.
	ChaosTail time.Duration

	// Destinations is how many destinations the events fan out to, 1 to 3: orders,
	// then analytics (every event goes to both), then crm (through a content filter,
	// about half of the events). Each destination has its own outage, and poison and
	// stubborn webhooks are drawn per webhook and destination. Default 3.
	Destinations int

	// Containers is the number of processor containers (each with its own breaker
	// cache, sharing the stores); invocations go to them in turn. Default 2.
	Containers int
	// InvocationTimeout is the processor function's timeout. Default 30 s (the
	// template's ProcessorTimeout).
	InvocationTimeout time.Duration
	// VisibilityTimeout is the main queue's visibility timeout. Default 180 s (6 x
	// the invocation timeout, as the template sets it).
	VisibilityTimeout time.Duration
	// MaxReceiveCount is the main queue's redrive policy. Default 200 (the
	// template's).
	MaxReceiveCount int
	// NoReplay skips replaying the dead-letter queue's non-permanent entries at the
	// end.
	NoReplay bool
	// MaxSimulated bounds the run on the fake clock; whatever is still queued then
	// counts as lost. Default 72 h.
	MaxSimulated time.Duration
}

// Defaults of Config.
const (
	DefaultWebhooks             = 2000
	DefaultArrivalsPerSecond    = 2
	DefaultTransientRate        = 0.02
	DefaultTimeoutRate          = 0.01
	DefaultAppliedOnTimeoutRate = 0.5
	DefaultTimeoutAfter         = 10 * time.Second
	DefaultPermanentRate        = 0.02
	DefaultStubbornRate         = 0.005
	DefaultDuplicateRate        = 0.1
	DefaultSendFailRate         = 0.03
	DefaultLostDeleteRate       = 0.03
	DefaultCrashRate            = 0.01
	DefaultThrottleRate         = 0.02
	DefaultOutage               = 4 * time.Minute
	DefaultChaosTail            = 15 * time.Minute
	DefaultDestinations         = 3
	DefaultContainers           = 2
	DefaultInvocationTimeout    = 30 * time.Second
	DefaultVisibilityTimeout    = 180 * time.Second
	DefaultMaxReceiveCount      = 200
	DefaultMaxSimulated         = 72 * time.Hour
)

// withDefaults fills in the defaults and checks the values.
func (c Config) withDefaults() (Config, error) {
	if c.Webhooks < 0 || c.ArrivalsPerSecond < 0 || c.TimeoutAfter < 0 || c.ChaosTail < 0 ||
		c.Containers < 0 || c.InvocationTimeout < 0 || c.VisibilityTimeout < 0 || c.MaxReceiveCount < 0 || c.MaxSimulated < 0 {
		return c, fmt.Errorf("chaos config: negative count or duration")
	}
	rates := []struct {
		name string
		p    *float64
		def  float64
	}{
		{"TransientRate", &c.TransientRate, DefaultTransientRate},
		{"TimeoutRate", &c.TimeoutRate, DefaultTimeoutRate},
		{"AppliedOnTimeoutRate", &c.AppliedOnTimeoutRate, DefaultAppliedOnTimeoutRate},
		{"PermanentRate", &c.PermanentRate, DefaultPermanentRate},
		{"StubbornRate", &c.StubbornRate, DefaultStubbornRate},
		{"DuplicateRate", &c.DuplicateRate, DefaultDuplicateRate},
		{"SendFailRate", &c.SendFailRate, DefaultSendFailRate},
		{"LostDeleteRate", &c.LostDeleteRate, DefaultLostDeleteRate},
		{"CrashRate", &c.CrashRate, DefaultCrashRate},
		{"ThrottleRate", &c.ThrottleRate, DefaultThrottleRate},
	}
	for _, r := range rates {
		switch {
		case *r.p > 1:
			return c, fmt.Errorf("chaos config: %s %v is above 1", r.name, *r.p)
		case *r.p == 0:
			*r.p = r.def
		case *r.p < 0:
			*r.p = 0
		}
	}
	if c.SendFailRate >= 1 {
		return c, fmt.Errorf("chaos config: SendFailRate 1 would refuse every post")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.TimeoutAfter, DefaultTimeoutAfter)
	def(&c.ChaosTail, DefaultChaosTail)
	def(&c.InvocationTimeout, DefaultInvocationTimeout)
	def(&c.VisibilityTimeout, DefaultVisibilityTimeout)
	def(&c.MaxSimulated, DefaultMaxSimulated)
	def(&c.Outage, DefaultOutage)
	if c.Outage < 0 {
		c.Outage = 0
	}
	if c.Webhooks == 0 {
		c.Webhooks = DefaultWebhooks
	}
	if c.ArrivalsPerSecond == 0 {
		c.ArrivalsPerSecond = DefaultArrivalsPerSecond
	}
	if c.Containers == 0 {
		c.Containers = DefaultContainers
	}
	if c.Destinations == 0 {
		c.Destinations = DefaultDestinations
	}
	if c.Destinations < 1 || c.Destinations > len(destinationNames) {
		return c, fmt.Errorf("chaos config: Destinations %d outside [1, %d]", c.Destinations, len(destinationNames))
	}
	if c.MaxReceiveCount == 0 {
		c.MaxReceiveCount = DefaultMaxReceiveCount
	}
	return c, nil
}
