package queue_test

import (
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/queue/queuetest"
)

// epoch is where the fake clocks of the memory tests start.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMemoryContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Setup {
		clock := testclock.New(epoch)
		dlq := queue.NewMemory(queue.MemoryConfig{Name: "dlq", Now: clock.Now})
		main := queue.NewMemory(queue.MemoryConfig{Name: "main", MaxReceiveCount: 2, DeadLetter: dlq, Now: clock.Now})
		return queuetest.Setup{
			Main:            main,
			DLQ:             dlq,
			MaxReceiveCount: 2,
			Now:             clock.Now,
			Advance: func(d time.Duration) {
				clock.Advance(d)
				main.Wake()
				dlq.Wake()
			},
		}
	})
}
