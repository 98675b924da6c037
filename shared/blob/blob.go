package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Store is the narrow port of the body store.
type Store interface {
	// Put stores body under key, recording sum (its hex SHA-256, as Sum returns).
	// It fails with ErrHashMismatch, before any write, when sum is not body's.
	Put(ctx context.Context, key, sum string, body []byte) error
	// Get returns the body stored under key, checked against sum.
	Get(ctx context.Context, key, sum string) ([]byte, error)
}

// Kinds of failure, for errors.Is.
var (
	// ErrNotFound: no object under the key. Permanent.
	ErrNotFound = errors.New("blob not found")
	// ErrHashMismatch: the body's SHA-256 is not the one expected. Permanent.
	ErrHashMismatch = errors.New("blob sha256 mismatch")
	// ErrInvalidKey: a key or source the rules of Key refuse. Permanent.
	ErrInvalidKey = errors.New("invalid blob key")
)

// Error is a failed store call.
type Error struct {
	Op        string // "put", "get", "delete" or "touch"
	Key       string
	Kind      error // one of the kinds above, or nil for an outage
	retryable bool
	Err       error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("blob %s %q", e.Op, e.Key)
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Retryable reports whether trying the same call again can help.
func (e *Error) Retryable() bool { return e.retryable }

// Retryable reports whether err is a store error that a retry can help.
func Retryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.retryable
}

// Sum returns the hex SHA-256 of body.
func Sum(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// Key returns the object key of the body of event id from source:
// bodies/<source>/<hex SHA-256 of id>. It refuses an empty source or id and a
// source containing '/'.
func Key(source, id string) (string, error) {
	if source == "" || id == "" || strings.Contains(source, "/") {
		return "", &Error{Op: "key", Key: source, Kind: ErrInvalidKey}
	}
	s := sha256.Sum256([]byte(id))
	return "bodies/" + source + "/" + hex.EncodeToString(s[:]), nil
}

func checkKey(op, key string) error {
	if key == "" {
		return &Error{Op: op, Key: key, Kind: ErrInvalidKey}
	}
	return nil
}
