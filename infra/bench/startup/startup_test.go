package main

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/config/sources"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/route"
)

// childEnv selects what the test binary does when measure starts it as a function.
const childEnv = "STARTUP_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child plays a Lambda function: it may connect to the AWS endpoint, fail its init
// or never reach the Runtime API, then asks for its first invocation.
func child(mode string) int {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if strings.Contains(mode, "net") {
		for range 2 {
			resp, err := http.Get(os.Getenv("AWS_ENDPOINT_URL") + "/")
			if err != nil {
				return 4
			}
			resp.Body.Close()
		}
	}
	switch {
	case strings.HasSuffix(mode, "exit"):
		os.Stderr.WriteString("configuration: TENAZ_QUEUE_URL is not set\n")
		return 3
	case mode == "init-error":
		resp, err := http.Post(api+initErrorPath, "application/json", strings.NewReader(`{"errorMessage":"bad handler"}`))
		if err == nil {
			resp.Body.Close()
		}
		time.Sleep(time.Minute)
	case mode == "hang":
		time.Sleep(time.Minute)
	}
	resp, err := http.Get(api + nextPath)
	if err == nil {
		resp.Body.Close()
	}
	return 0
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestMeasureChild(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		conns   int
		wantErr []string // all in the error; none = success
	}{
		"ok":            {},
		"net":           {conns: 2},
		"exit":          {wantErr: []string{"exited before its first Runtime API request", "TENAZ_QUEUE_URL is not set"}},
		"net-then-exit": {wantErr: []string{"exited before", "2 connection(s) to the AWS endpoint during init"}},
		"init-error":    {wantErr: []string{"posted an init error", "bad handler"}},
		"hang":          {wantErr: []string{"no Runtime API request within"}},
	}
	exe := self(t)
	for mode, c := range cases {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var endpoint string
			env := func(ep string) []string {
				endpoint = ep
				return []string{childEnv + "=" + mode, "AWS_ENDPOINT_URL=" + ep}
			}
			began := time.Now()
			s, err := measure(exe, env, 2*time.Second)
			took := time.Since(began)
			if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
				t.Errorf("endpoint %q is not on loopback", endpoint)
			}
			if len(c.wantErr) > 0 {
				if err == nil {
					t.Fatalf("measure = %+v, want an error", s)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.conns != c.conns {
				t.Errorf("conns = %d, want %d", s.conns, c.conns)
			}
			if s.startup <= 0 || s.startup > took {
				t.Errorf("startup %v outside (0, %v]", s.startup, took)
			}
		})
	}
}

func TestFakeRuntimeRecordsTheFirstNextRequest(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rt := newFakeRuntime(func() time.Time {
		clock = clock.Add(time.Millisecond)
		return clock
	})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	defer rt.Close()

	get := func(path string) <-chan int {
		t.Helper()
		status := make(chan int, 1)
		go func() {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				status <- -1
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		return status
	}
	if got := <-get("/2018-06-01/runtime/invocation/other"); got != http.StatusNotFound {
		t.Fatalf("unknown path: status %d", got)
	}
	first := get(nextPath)
	var at time.Time
	select {
	case at = <-rt.reached:
	case <-time.After(5 * time.Second):
		t.Fatal("first GET next not recorded")
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, int(2*time.Millisecond), time.UTC); !at.Equal(want) {
		t.Fatalf("recorded %v, want %v (the clock at the second request)", at, want)
	}
	second := get(nextPath)
	for len(rt.Requests()) < 3 {
		time.Sleep(time.Millisecond)
	}
	select {
	case st := <-first:
		t.Fatalf("GET next answered %d before Close; it must be held", st)
	case again := <-rt.reached:
		t.Fatalf("second GET next recorded too (%v)", again)
	case <-time.After(50 * time.Millisecond):
	}

	resp, err := http.Post(srv.URL+initErrorPath, "application/json", strings.NewReader(`{"errorMessage":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("init error: status %d", resp.StatusCode)
	}
	if body := <-rt.initErr; body != `{"errorMessage":"x"}` {
		t.Fatalf("init error body %q", body)
	}

	rt.Close()
	for _, ch := range []<-chan int{first, second} {
		select {
		case st := <-ch:
			if st != http.StatusServiceUnavailable {
				t.Fatalf("held GET next answered %d after Close", st)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release a held GET next")
		}
	}
	want := []string{"GET /2018-06-01/runtime/invocation/other", "GET " + nextPath, "GET " + nextPath, "POST " + initErrorPath}
	if got := rt.Requests(); !slices.Equal(got, want) {
		t.Fatalf("requests %q, want %q", got, want)
	}
}

func TestConnCounterSettleCountsEveryEarlierConnection(t *testing.T) {
	t.Parallel()
	c := newConnCounter()
	defer c.Close()
	addr := strings.TrimPrefix(c.URL(), "http://")
	dial := func(n int) {
		t.Helper()
		for range n {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close() // closed at once: still counted
		}
	}
	for _, step := range []struct{ dial, want int }{{0, 0}, {3, 3}, {0, 3}, {5, 8}} {
		dial(step.dial)
		n, err := c.Settle(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if n != step.want {
			t.Fatalf("after %d more connections: Settle = %d, want %d", step.dial, n, step.want)
		}
	}
	resp, err := http.Get(c.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "AccessDeniedException" || !strings.Contains(string(body), "AccessDenied") {
		t.Fatalf("endpoint answered %d %q %q, want a non-retryable AccessDenied", resp.StatusCode, resp.Header, body)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{7}, 50, 7},
		{[]float64{7}, 90, 7},
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{4, 1, 3, 2}, 50, 2.5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9.1},
		{[]float64{10, 20}, 0, 10},
		{[]float64{10, 20}, 100, 20},
		{[]float64{10, 20}, 25, 12.5},
		{nil, 50, math.NaN()},
		{[]float64{1}, 101, math.NaN()},
		{[]float64{1}, -1, math.NaN()},
	}
	for _, c := range cases {
		in := slices.Clone(c.xs)
		got := percentile(in, c.p)
		if math.IsNaN(c.want) != math.IsNaN(got) || (!math.IsNaN(c.want) && math.Abs(got-c.want) > 1e-9) {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.xs, c.p, got, c.want)
		}
		if !slices.Equal(in, c.xs) {
			t.Errorf("percentile reordered its input: %v", in)
		}
	}
}

func TestRecipeMatchesTheMakefile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRecipe(b); err != nil {
		t.Fatal(err)
	}
	const good = "define lambda_build\n# comment\nGOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(2) ./functions/$(1)\nendef\n"
	cases := map[string]struct {
		makefile string
		wantErr  string
	}{
		"same":            {good, ""},
		"double quotes":   {strings.ReplaceAll(good, "'", `"`), ""},
		"no define":       {"build:\n\tgo build ./...\n", "no complete define"},
		"unterminated":    {"define lambda_build\nGOOS=linux go build\n", "no complete define"},
		"two lines":       {strings.Replace(good, "endef", "echo done\nendef", 1), "2 command lines"},
		"other ldflags":   {strings.Replace(good, "-s -w", "-s", 1), "update one of them"},
		"no trimpath":     {strings.Replace(good, " -trimpath", "", 1), "update one of them"},
		"amd64":           {strings.Replace(good, "GOARCH=arm64", "GOARCH=amd64", 1), "update one of them"},
		"unclosed quote":  {strings.Replace(good, "-s -w'", "-s -w", 1), "unterminated quote"},
		"backslash":       {strings.Replace(good, "-trimpath", `-trim\path`, 1), "unsupported"},
		"other define ok": {"define other\nx\nendef\n" + good, ""},
	}
	for name, c := range cases {
		err := checkRecipe([]byte(c.makefile))
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.wantErr)
		}
	}
}

func TestFunctionsFollowTheFunctionsDirectory(t *testing.T) {
	t.Parallel()
	fns, err := functions(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fns {
		names = append(names, f.name)
	}
	if want := []string{"ingest", "processor", "redrive", "hello"}; !slices.Equal(names, want) {
		t.Fatalf("functions %q, want %q", names, want)
	}

	mkroot := func(dirs ...string) string {
		t.Helper()
		root := t.TempDir()
		for _, d := range append(dirs, "infra/bench/hello") {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, d, "main.go"), []byte("package main\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	if _, err := functions(mkroot("functions/ingest", "functions/processor", "functions/redrive", "functions/audit")); err == nil || !strings.Contains(err.Error(), "functions/audit has no start-up environment") {
		t.Errorf("an unknown function: err = %v", err)
	}
	if _, err := functions(mkroot("functions/ingest", "functions/redrive")); err == nil || !strings.Contains(err.Error(), "functions/processor") {
		t.Errorf("a missing function: err = %v", err)
	}
}

// Each function's settings pass its own configuration loading, so a start-up
// measures a function that initialises as deployed rather than one exiting early.
func TestSettingsLoad(t *testing.T) {
	t.Parallel()
	fns, err := functions(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const ep = "http://127.0.0.1:9"
	for _, fn := range fns {
		env := map[string]string{}
		for _, kv := range lambdaEnv(fn, ep) {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := env[k]; dup {
				t.Errorf("%s: %s set twice", fn.name, k)
			}
			env[k] = v
		}
		getenv := func(k string) string { return env[k] }
		if env["AWS_ENDPOINT_URL"] != ep || env["AWS_ACCESS_KEY_ID"] == "" || env["AWS_LAMBDA_FUNCTION_NAME"] != "tenaz-"+fn.name {
			t.Errorf("%s: Lambda environment incomplete: %v", fn.name, env)
		}
		switch fn.name {
		case "ingest":
			if s, err := sources.Load(context.Background(), getenv, nil); err != nil || len(s) != 6 {
				t.Errorf("ingest sources: %d, %v", len(s), err)
			}
			if env[config.EnvSourcesSecretID] != "" {
				t.Error("ingest would read its sources from Secrets Manager")
			}
		case "processor", "redrive":
			cfg, err := config.LoadProcessor(getenv)
			if err != nil {
				t.Fatalf("%s: %v", fn.name, err)
			}
			if _, err := route.Build(cfg.Routes, map[string]func(route.Config) (route.Handler, error){
				"forward": func(rc route.Config) (route.Handler, error) { return forward.FromConfig(rc, nil), nil },
			}); err != nil || len(cfg.Routes) == 0 {
				t.Errorf("%s routes: %d, %v", fn.name, len(cfg.Routes), err)
			}
			for _, r := range cfg.Routes {
				for _, u := range append([]string{r.URL}, stepURLs(r.Steps)...) {
					if u != "" && !strings.HasPrefix(u, ep+"/") {
						t.Errorf("%s: route destination %s is not the loopback endpoint", fn.name, u)
					}
				}
			}
			if fn.name == "redrive" {
				if _, err := redrive.LoadSettings(getenv); err != nil {
					t.Error(err)
				}
			}
		}
	}
}

func stepURLs(steps []route.Step) []string {
	var urls []string
	for _, s := range steps {
		urls = append(urls, s.URL)
	}
	return urls
}

// The real thing on a small scale: hello and ingest built by the recipe for this
// machine start without network I/O; ingest given a sources secret instead of
// inline sources connects to the AWS endpoint during init and is caught.
func TestBuiltFunctionsStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two Lambda binaries")
	}
	t.Parallel()
	root := filepath.Join("..", "..", "..")
	fns, err := functions(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	byName := map[string]function{}
	for _, fn := range fns {
		byName[fn.name] = fn
	}
	for _, name := range []string{"hello", "ingest"} {
		fn := byName[name]
		bin, err := build(root, dir, runtime.GOARCH, fn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strippedSize(bin, runtime.GOARCH); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			s, err := measure(bin, func(ep string) []string { return lambdaEnv(fn, ep) }, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if s.conns != 0 || s.startup <= 0 {
				t.Fatalf("%s: %+v", name, s)
			}
		}
		if name != "ingest" {
			continue
		}
		withSecret := func(ep string) []string {
			var env []string
			for _, kv := range lambdaEnv(fn, ep) {
				if !strings.HasPrefix(kv, config.EnvSources+"=") {
					env = append(env, kv)
				}
			}
			return append(env, config.EnvSourcesSecretID+"=tenaz/sources")
		}
		_, err = measure(bin, withSecret, 10*time.Second)
		if err == nil || !strings.Contains(err.Error(), "connection(s) to the AWS endpoint during init") {
			t.Fatalf("ingest reading its secret at init: err = %v", err)
		}
	}
}
