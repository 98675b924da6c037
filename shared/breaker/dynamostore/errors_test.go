package dynamostore

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/retry"
)

// classify marks transient errors with the breaker package's own sentinel (the
// rules themselves are tested in shared/ddb).
func TestClassifyUsesThePackageSentinel(t *testing.T) {
	t.Parallel()
	throttled := awstest.DynamoDBError(400, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")})
	if got := classify(throttled); !errors.Is(got, breaker.ErrUnavailable) || !errors.Is(got, throttled) || retry.IsPermanent(got) {
		t.Fatalf("classify(throttle) = %v", got)
	}
	if got := classify(awstest.DynamoDBError(400, &types.ResourceNotFoundException{})); !retry.IsPermanent(got) {
		t.Fatalf("classify(missing table) = %v", got)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	full := map[string]types.AttributeValue{
		AttrName: str("crm"), AttrState: str("half-open"), AttrGeneration: u(18446744073709551615),
		AttrWindowStartMs: ms(t0), AttrFailures: n(5), AttrOpenedAtMs: ms(t0.Add(time.Second)),
		AttrOpenUntilMs: ms(t0.Add(time.Minute)), AttrProbeUntilMs: ms(t0.Add(90 * time.Second)), AttrExpiresAt: n(t0.Unix()),
	}
	got, err := decode("crm", full)
	want := breaker.Record{Name: "crm", State: breaker.HalfOpen, Generation: 18446744073709551615, WindowStart: t0, Failures: 5,
		OpenedAt: t0.Add(time.Second), OpenUntil: t0.Add(time.Minute), ProbeUntil: t0.Add(90 * time.Second)}
	if err != nil || got != want {
		t.Fatalf("decode = %+v, %v\nwant   %+v", got, err, want)
	}
	if got, err := decode("crm", nil); err != nil || got != (breaker.Record{Name: "crm"}) {
		t.Fatalf("decode of no item = %+v, %v", got, err)
	}

	bad := map[string]func(item map[string]types.AttributeValue){
		"no state":                 func(m map[string]types.AttributeValue) { delete(m, AttrState) },
		"unknown state":            func(m map[string]types.AttributeValue) { m[AttrState] = str("ajar") },
		"another name":             func(m map[string]types.AttributeValue) { m[AttrName] = str("mailer") },
		"generation negative":      func(m map[string]types.AttributeValue) { m[AttrGeneration] = n(-1) },
		"generation as string":     func(m map[string]types.AttributeValue) { m[AttrGeneration] = str("1") },
		"failures not an integer":  func(m map[string]types.AttributeValue) { m[AttrFailures] = &types.AttributeValueMemberN{Value: "2.5"} },
		"window start as a string": func(m map[string]types.AttributeValue) { m[AttrWindowStartMs] = str("x") },
	}
	for name, mutate := range bad {
		item := map[string]types.AttributeValue{}
		for k, v := range full {
			item[k] = v
		}
		mutate(item)
		if _, err := decode("crm", item); !retry.IsPermanent(err) {
			t.Errorf("%s: decode = %v, want a permanent error", name, err)
		}
	}
}
