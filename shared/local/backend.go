package local

import (
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/ratelimit"
)

// Backend is where a pipeline keeps its state: the webhook queue (whose redrive
// policy moves messages to DLQ), the dead-letter queue, the idempotency records and
// the circuit breakers. MemoryBackend and AWSBackend make one.
type Backend struct {
	Name     string // shown by the status API and the live view: "memory" or "aws"
	Main     queue.Queue
	DLQ      queue.Queue
	Store    idempotency.Store
	Breakers breaker.Store
	// Rates holds the routes' rate limit windows (ratePerSecond); nil: in memory.
	Rates ratelimit.Store
}

// Names of the backends.
const (
	BackendMemory = "memory"
	BackendAWS    = "aws"
)

// MemoryBackend keeps everything in this process: SQS semantics from queue.Memory
// (the main queue with visibility timeout vt and a redrive policy of
// maxReceiveCount receives; the DLQ keeps messages 14 days), DynamoDB semantics from
// idempotency.MemoryStore and breaker.MemoryStore.
func MemoryBackend(maxReceiveCount int, vt time.Duration) Backend {
	dlq := queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks-dlq", Retention: 14 * 24 * time.Hour})
	return Backend{
		Name: BackendMemory,
		Main: queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks", VisibilityTimeout: vt,
			MaxReceiveCount: maxReceiveCount, DeadLetter: dlq}),
		DLQ:      dlq,
		Store:    idempotency.NewMemoryStore(),
		Breakers: breaker.NewMemoryStore(),
		Rates:    ratelimit.NewMemory(),
	}
}
