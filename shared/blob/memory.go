package blob

import (
	"context"
	"sync"
)

// Memory is an in-memory Store with the semantics of the S3 adapter: a put
// overwrites, a get of an absent key is ErrNotFound, the body is checked against
// the SHA-256 asked for. Fail, when set, makes every call fail as an outage would.
type Memory struct {
	mu      sync.Mutex
	objects map[string]memObject
	fail    error
}

type memObject struct {
	body []byte
	sum  string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{objects: map[string]memObject{}} }

// SetOutage makes every later call fail with a retryable error wrapping err; nil
// ends the outage.
func (m *Memory) SetOutage(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// Corrupt replaces the bytes stored under key, keeping the recorded SHA-256, as a
// damaged or tampered object would.
func (m *Memory) Corrupt(key string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.objects[key]
	o.body = append([]byte(nil), body...)
	m.objects[key] = o
}

// Len returns the number of stored objects.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.objects)
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, key, sum string, body []byte) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	if Sum(body) != sum {
		return &Error{Op: "put", Key: key, Kind: ErrHashMismatch}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return &Error{Op: "put", Key: key, retryable: true, Err: m.fail}
	}
	m.objects[key] = memObject{body: append([]byte(nil), body...), sum: sum}
	return nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key, sum string) ([]byte, error) {
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, &Error{Op: "get", Key: key, retryable: true, Err: m.fail}
	}
	o, ok := m.objects[key]
	if !ok {
		return nil, &Error{Op: "get", Key: key, Kind: ErrNotFound}
	}
	if Sum(o.body) != sum {
		return nil, &Error{Op: "get", Key: key, Kind: ErrHashMismatch}
	}
	return append([]byte(nil), o.body...), nil
}
