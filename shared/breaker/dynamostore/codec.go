package dynamostore

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/retry"
)

// Attribute names of a breaker item. They are a contract: operators, reports and
// dashboards read them.
const (
	AttrName          = "name"          // S, the partition key: the dependency name
	AttrState         = "state"         // S: closed, open or half-open
	AttrGeneration    = "generation"    // N, bumped by every transition
	AttrWindowStartMs = "windowStartMs" // N, epoch ms: start of the failure window (closed)
	AttrFailures      = "failures"      // N, failures counted since windowStartMs (closed)
	AttrOpenedAtMs    = "openedAtMs"    // N, epoch ms: start of the open period (open, half-open)
	AttrOpenUntilMs   = "openUntilMs"   // N, epoch ms: end of the open period (open, half-open)
	AttrProbeUntilMs  = "probeUntilMs"  // N, epoch ms: end of the probe lease (half-open)
	AttrExpiresAt     = "expiresAt"     // N, epoch seconds: the TTL attribute (absent while paused)
	AttrPaused        = "paused"        // BOOL true while an operator holds the destination; absent otherwise
	AttrPausedAtMs    = "pausedAtMs"    // N, epoch ms: when it was paused (with paused)
)

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func u(v uint64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(v, 10)}
}

func ms(t time.Time) types.AttributeValue { return n(t.UnixMilli()) }

// key returns the primary key of the item of name.
func key(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrName: str(name)}
}

// decode reads a stored item; an empty item is a breaker with no item, closed at
// generation 0. An item that is not a breaker (wrong types, unknown state) is a
// permanent error: no retry will change it; an operator must.
func decode(name string, item map[string]types.AttributeValue) (breaker.Record, error) {
	r := breaker.Record{Name: name}
	if len(item) == 0 {
		return r, nil
	}
	var err error
	fail := func(format string, args ...any) {
		if err == nil {
			err = fmt.Errorf(format, args...)
		}
	}
	num := func(attr string) string {
		switch v := item[attr].(type) {
		case *types.AttributeValueMemberN:
			return v.Value
		case nil:
		default:
			fail("attribute %s is %T, want N", attr, v)
		}
		return ""
	}
	integer := func(attr string) int64 {
		v := num(attr)
		if v == "" {
			return 0
		}
		x, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			fail("attribute %s: %w", attr, perr)
		}
		return x
	}
	instant := func(attr string) time.Time {
		if x := integer(attr); x != 0 {
			return time.UnixMilli(x).UTC()
		}
		return time.Time{}
	}
	switch v := item[AttrName].(type) {
	case *types.AttributeValueMemberS:
		if v.Value != name {
			fail("attribute %s is %q, want %q", AttrName, v.Value, name)
		}
	default:
		fail("attribute %s is %T, want S", AttrName, v)
	}
	switch v := item[AttrState].(type) {
	case *types.AttributeValueMemberS:
		st, perr := breaker.ParseState(v.Value)
		if perr != nil {
			fail("attribute %s: %w", AttrState, perr)
		}
		r.State = st
	default:
		fail("attribute %s is %T, want S", AttrState, v)
	}
	if g := num(AttrGeneration); g != "" {
		x, perr := strconv.ParseUint(g, 10, 64)
		if perr != nil {
			fail("attribute %s: %w", AttrGeneration, perr)
		}
		r.Generation = x
	}
	r.WindowStart = instant(AttrWindowStartMs)
	r.Failures = int(integer(AttrFailures))
	r.OpenedAt = instant(AttrOpenedAtMs)
	r.OpenUntil = instant(AttrOpenUntilMs)
	r.ProbeUntil = instant(AttrProbeUntilMs)
	switch v := item[AttrPaused].(type) {
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			// A pause set by hand without pausedAtMs still holds the destination.
			r.PausedAt = time.UnixMilli(integer(AttrPausedAtMs)).UTC()
		}
	case nil:
	default:
		fail("attribute %s is %T, want BOOL", AttrPaused, v)
	}
	if err != nil {
		return breaker.Record{}, retry.Permanent(fmt.Errorf("decode breaker %s: %w", name, err))
	}
	return r, nil
}
