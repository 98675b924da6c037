package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
)

// A signup webhook creates the user in the CRM, then sends the welcome email. The
// email provider fails the first time. The queue delivers the event again, and the
// retry resumes after the last completed step: it sends the email without creating a
// second CRM user.
func ExampleAttempt_Step() {
	store := idempotency.NewMemoryStore()
	runner := idempotency.NewRunner(store, idempotency.Settings{})

	crmUsers := 0
	emailDown := true
	handle := func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
		userID, err := a.Step(ctx, "create-crm-user", func(ctx context.Context) ([]byte, error) {
			crmUsers++
			return []byte(fmt.Sprintf("crm-user-%d", crmUsers)), nil
		})
		if err != nil {
			return nil, err
		}
		_, err = a.Step(ctx, "send-welcome-email", func(ctx context.Context) ([]byte, error) {
			if emailDown {
				return nil, errors.New("email provider: 503")
			}
			fmt.Printf("attempt %d: welcome email sent to %s\n", a.Number(), userID)
			return nil, nil
		})
		return userID, err
	}

	deliver := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		body := []byte(`{"id":"evt_1","type":"customer.created"}`)
		out, err := runner.Do(ctx, "stripe:evt_1", idempotency.PayloadHash(body), handle)
		if err != nil {
			fmt.Println("store error:", err)
			return
		}
		fmt.Printf("%s after %d attempt(s): result=%q err=%v\n", out.Kind, out.Attempts, out.Result, out.Err)
	}

	deliver()         // the email fails: the event is released for a retry
	emailDown = false // the provider recovers
	deliver()         // the queue redelivers: the CRM step is skipped
	deliver()         // a late duplicate: nothing runs
	fmt.Println("CRM users created:", crmUsers)
	// Output:
	// failed after 1 attempt(s): result="" err=step "send-welcome-email": email provider: 503
	// attempt 2: welcome email sent to crm-user-1
	// done after 2 attempt(s): result="crm-user-1" err=<nil>
	// duplicate after 2 attempt(s): result="crm-user-1" err=<nil>
	// CRM users created: 1
}
