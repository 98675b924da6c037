package idempotency

import (
	"fmt"

	"github.com/tenaz/tenaz/shared/retry"
)

// permanentf is an error no retry can fix: the request itself is wrong.
func permanentf(format string, args ...any) error {
	return retry.Permanent(fmt.Errorf(format, args...))
}

// ValidateClaim rejects a claim request that could never succeed (a programming
// error, not a store condition): the error is retry.Permanent.
func ValidateClaim(req ClaimRequest) error { return validateClaim(req) }

func validateClaim(req ClaimRequest) error {
	switch {
	case req.Key == "":
		return permanentf("claim: empty key")
	case req.LeaseToken == "":
		return permanentf("claim %s: empty lease token", req.Key)
	case req.Now.IsZero():
		return permanentf("claim %s: zero time", req.Key)
	case req.LeaseExpiresAtMs <= req.Now.UnixMilli():
		return permanentf("claim %s: lease already over at %d ms", req.Key, req.LeaseExpiresAtMs)
	case req.ExpiresAt < req.Now.Unix():
		return permanentf("claim %s: expiresAt %d s is in the past", req.Key, req.ExpiresAt)
	}
	return nil
}
