package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Runtime API paths (version 2018-06-01).
const (
	nextPath      = "/2018-06-01/runtime/invocation/next"
	initErrorPath = "/2018-06-01/runtime/init/error"
)

// fakeRuntime is a Lambda Runtime API that never delivers an invocation: it records
// when the first GET of the next invocation arrives (the end of the process's init)
// and holds every such request open until the client goes away or Close. An init
// error the function posts is recorded too; any other request gets 404.
type fakeRuntime struct {
	now func() time.Time

	reached chan time.Time // the arrival of the first GET next; sent once
	initErr chan string    // the body of the first init error POST; sent once

	firstNext, firstErr, closing sync.Once
	done                         chan struct{}

	mu       sync.Mutex
	requests []string // "METHOD path" of every request, in arrival order
}

func newFakeRuntime(now func() time.Time) *fakeRuntime {
	return &fakeRuntime{
		now:     now,
		reached: make(chan time.Time, 1),
		initErr: make(chan string, 1),
		done:    make(chan struct{}),
	}
}

func (f *fakeRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := f.now()
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == nextPath:
		f.firstNext.Do(func() { f.reached <- at })
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
		http.Error(w, "no invocation: start-up bench", http.StatusServiceUnavailable)
	case r.Method == http.MethodPost && r.URL.Path == initErrorPath:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
		f.firstErr.Do(func() { f.initErr <- string(body) })
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "not served by the start-up bench", http.StatusNotFound)
	}
}

// Requests returns "METHOD path" of the requests received so far.
func (f *fakeRuntime) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Close releases the GET next requests it holds.
func (f *fakeRuntime) Close() { f.closing.Do(func() { close(f.done) }) }

// connCounter is the AWS endpoint (and instance metadata endpoint) a function is
// given: an HTTP server on loopback that counts the connections it accepts and
// answers every request with a non-retryable AccessDenied, so a function that calls
// AWS during init fails fast instead of retrying.
type connCounter struct {
	srv      *httptest.Server
	accepted chan struct{} // a token after each accept, at most one pending

	mu      sync.Mutex
	remotes []string        // remote address of each accepted connection, in accept order
	own     map[string]bool // remote addresses of Settle's own connections
}

func newConnCounter() *connCounter {
	c := &connCounter{accepted: make(chan struct{}, 1), own: map[string]bool{}}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(refuseAWS))
	// StateNew is reported by the accept loop itself, before the next Accept, so
	// remotes is in accept order.
	c.srv.Config.ConnState = func(conn net.Conn, s http.ConnState) {
		if s != http.StateNew {
			return
		}
		c.mu.Lock()
		c.remotes = append(c.remotes, conn.RemoteAddr().String())
		c.mu.Unlock()
		select {
		case c.accepted <- struct{}{}:
		default:
		}
	}
	c.srv.Start()
	return c
}

func refuseAWS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"no network I/O during init: start-up bench"}`)
}

// URL is the endpoint, http://127.0.0.1:port.
func (c *connCounter) URL() string { return c.srv.URL }

// Settle returns how many connections other clients made to the counter before the
// call. A connection whose handshake completed before Settle is counted even if the
// server had not accepted it yet: Settle connects itself and waits until its own
// connection is accepted, and the kernel hands connections over in arrival order.
func (c *connCounter) Settle(timeout time.Duration) (int, error) {
	conn, err := net.DialTimeout("tcp", c.srv.Listener.Addr().String(), timeout)
	if err != nil {
		return 0, fmt.Errorf("connect to the endpoint counter: %w", err)
	}
	defer conn.Close()
	me := conn.LocalAddr().String()
	c.mu.Lock()
	c.own[me] = true
	c.mu.Unlock()
	expire := time.After(timeout)
	for {
		c.mu.Lock()
		n, found := 0, false
		for _, r := range c.remotes {
			if r == me {
				found = true
				break
			}
			if !c.own[r] {
				n++
			}
		}
		c.mu.Unlock()
		if found {
			return n, nil
		}
		select {
		case <-c.accepted:
		case <-expire:
			return 0, fmt.Errorf("endpoint counter did not accept its own connection within %v", timeout)
		}
	}
}

// Close stops the server.
func (c *connCounter) Close() { c.srv.Close() }

// sample is one start-up of a function.
type sample struct {
	startup time.Duration // from just before exec to the first GET next
	conns   int           // connections to the AWS endpoint while the process lived
}

// measure starts bin once with env (to which it adds AWS_LAMBDA_RUNTIME_API,
// AWS_ENDPOINT_URL and HOME), waits for its first Runtime API request for the next
// invocation, kills it and counts the connections it made to the AWS endpoint. An
// error says the process exited, posted an init error or reached no Runtime API
// within timeout, with the end of its output; none of these is helped by a retry.
func measure(bin string, env func(endpoint string) []string, timeout time.Duration) (sample, error) {
	counter := newConnCounter()
	defer counter.Close()
	rt := newFakeRuntime(time.Now)
	api := httptest.NewServer(rt)
	defer api.Close()
	defer rt.Close()

	home := filepath.Join(filepath.Dir(bin), "home")
	out := &tail{max: 4 << 10}
	cmd := exec.Command(bin)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(env(counter.URL()),
		"AWS_LAMBDA_RUNTIME_API="+api.Listener.Addr().String(),
		"HOME="+home,
	)
	cmd.Stdout, cmd.Stderr = out, out

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var r sample
	var failure error
	select {
	case at := <-rt.reached:
		r.startup = at.Sub(start)
	case body := <-rt.initErr:
		failure = fmt.Errorf("posted an init error: %s", body)
	case err := <-exited:
		exited <- err
		failure = fmt.Errorf("exited before its first Runtime API request (%v)", err)
	case <-time.After(timeout):
		failure = fmt.Errorf("made no Runtime API request within %v (requests: %q)", timeout, rt.Requests())
	}
	_ = cmd.Process.Kill()
	<-exited
	conns, err := counter.Settle(5 * time.Second)
	if err != nil {
		return sample{}, err
	}
	r.conns = conns
	if failure != nil {
		if conns > 0 {
			failure = fmt.Errorf("%w; it made %d connection(s) to the AWS endpoint during init", failure, conns)
		}
		return sample{}, fmt.Errorf("%s %w; output:\n%s", bin, failure, out.String())
	}
	return r, nil
}

// tail keeps the last max bytes written to it. It is safe for concurrent writers.
type tail struct {
	max int
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
