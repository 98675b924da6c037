package dynamostore

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
)

// encode returns the item of a record. Empty optional attributes are left out.
func encode(r idempotency.Record) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrID:          s(r.Key),
		AttrStatus:      s(string(r.Status)),
		AttrAttempts:    n(int64(r.Attempts)),
		AttrExpiresAt:   n(r.ExpiresAt),
		AttrPayloadHash: s(r.PayloadHash),
	}
	if r.LeaseToken != "" {
		item[AttrLeaseToken] = s(r.LeaseToken)
		item[AttrLeaseExpiresAtMs] = n(r.LeaseExpiresAtMs)
	}
	if r.ClaimedAtMs > 0 {
		item[AttrClaimedAt] = n(r.ClaimedAtMs)
	}
	if r.DeadLetteredAtMs > 0 {
		item[AttrDeadLetteredAt] = n(r.DeadLetteredAtMs)
		item[AttrDeadLetterReason] = s(r.DeadLetterReason)
		item[AttrLastError] = s(r.LastError)
	}
	if r.AttemptsResetAtMs > 0 {
		item[AttrAttemptsResetAt] = n(r.AttemptsResetAtMs)
	}
	if len(r.Result) > 0 {
		item[AttrResult] = &types.AttributeValueMemberB{Value: r.Result}
	}
	steps := make(map[string]types.AttributeValue, len(r.Steps))
	for name, v := range r.Steps {
		if v == nil {
			v = []byte{}
		}
		steps[name] = &types.AttributeValueMemberB{Value: v}
	}
	item[AttrSteps] = &types.AttributeValueMemberM{Value: steps}
	return item
}

// decode reads a stored item; a record without steps has nil Steps. An item that is
// not a record (wrong types, no key) is a permanent error: no retry will change it;
// an operator must.
func decode(item map[string]types.AttributeValue) (idempotency.Record, error) {
	var r idempotency.Record
	var err error
	str := func(name string, required bool) string {
		switch v := item[name].(type) {
		case *types.AttributeValueMemberS:
			return v.Value
		case nil:
			if required && err == nil {
				err = fmt.Errorf("attribute %s missing", name)
			}
		default:
			if err == nil {
				err = fmt.Errorf("attribute %s is %T, want S", name, v)
			}
		}
		return ""
	}
	num := func(name string, required bool) int64 {
		switch v := item[name].(type) {
		case *types.AttributeValueMemberN:
			x, perr := strconv.ParseInt(v.Value, 10, 64)
			if perr != nil && err == nil {
				err = fmt.Errorf("attribute %s: %w", name, perr)
			}
			return x
		case nil:
			if required && err == nil {
				err = fmt.Errorf("attribute %s missing", name)
			}
		default:
			if err == nil {
				err = fmt.Errorf("attribute %s is %T, want N", name, v)
			}
		}
		return 0
	}
	r.Key = str(AttrID, true)
	r.Status = idempotency.Status(str(AttrStatus, true))
	r.LeaseToken = str(AttrLeaseToken, false)
	r.LeaseExpiresAtMs = num(AttrLeaseExpiresAtMs, false)
	r.Attempts = int(num(AttrAttempts, false))
	r.ExpiresAt = num(AttrExpiresAt, true)
	r.PayloadHash = str(AttrPayloadHash, false)
	r.ClaimedAtMs = num(AttrClaimedAt, false)
	r.DeadLetteredAtMs = num(AttrDeadLetteredAt, false)
	r.DeadLetterReason = str(AttrDeadLetterReason, false)
	r.LastError = str(AttrLastError, false)
	r.AttemptsResetAtMs = num(AttrAttemptsResetAt, false)
	switch v := item[AttrResult].(type) {
	case *types.AttributeValueMemberB:
		if len(v.Value) > 0 {
			r.Result = v.Value
		}
	case nil:
	default:
		if err == nil {
			err = fmt.Errorf("attribute %s is %T, want B", AttrResult, v)
		}
	}
	switch v := item[AttrSteps].(type) {
	case *types.AttributeValueMemberM:
		if len(v.Value) > 0 {
			r.Steps = make(map[string][]byte, len(v.Value))
		}
		for name, sv := range v.Value {
			b, ok := sv.(*types.AttributeValueMemberB)
			if !ok {
				if err == nil {
					err = fmt.Errorf("step %q is %T, want B", name, sv)
				}
				continue
			}
			r.Steps[name] = b.Value
			if r.Steps[name] == nil {
				r.Steps[name] = []byte{}
			}
		}
	case nil:
	default:
		if err == nil {
			err = fmt.Errorf("attribute %s is %T, want M", AttrSteps, v)
		}
	}
	if err != nil {
		return idempotency.Record{}, retry.Permanent(fmt.Errorf("decode record %q: %w", r.Key, err))
	}
	return r, nil
}
