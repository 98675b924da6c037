package blob

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-memory Store with the semantics of the S3 adapter: a put
// overwrites, a get of an absent key is ErrNotFound, the body is checked against
// the SHA-256 asked for, a delete of an absent key succeeds, a touch of one is
// ErrNotFound. SetOutage makes every call fail as an outage would.
type Memory struct {
	mu      sync.Mutex
	objects map[string]memObject
	fail    error
	now     func() time.Time
}

type memObject struct {
	body     []byte
	sum      string
	modified time.Time // last Put or Touch, the age a lifecycle rule counts from
}

// NewMemory returns an empty in-memory store on the real clock.
func NewMemory() *Memory { return &Memory{objects: map[string]memObject{}, now: time.Now} }

// SetClock makes the store read the time from now (for Put and Touch).
func (m *Memory) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// Modified returns when the object under key was last put or touched, and whether
// there is one.
func (m *Memory) Modified(key string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	return o.modified, ok
}

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
	m.objects[key] = memObject{body: append([]byte(nil), body...), sum: sum, modified: m.now()}
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

// Delete removes the object under key; deleting an absent key succeeds.
func (m *Memory) Delete(_ context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return &Error{Op: "delete", Key: key, retryable: true, Err: m.fail}
	}
	delete(m.objects, key)
	return nil
}

// Touch records now as the object's modification time, so its lifecycle age starts
// again; an absent key is ErrNotFound.
func (m *Memory) Touch(_ context.Context, key string) error {
	if err := checkKey("touch", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return &Error{Op: "touch", Key: key, retryable: true, Err: m.fail}
	}
	o, ok := m.objects[key]
	if !ok {
		return &Error{Op: "touch", Key: key, Kind: ErrNotFound}
	}
	o.modified = m.now()
	m.objects[key] = o
	return nil
}
