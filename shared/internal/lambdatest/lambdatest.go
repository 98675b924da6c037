// Package lambdatest runs Tenaz's real bootstrap binaries under the AWS Lambda Runtime
// Interface Emulator (RIE) for end-to-end tests.
//
// The RIE path comes from TENAZ_RIE (infra/test.sh sets it; `make setup` installs the
// pinned emulator into .tools/bin). Each Function gets its own loopback ports for the
// invoke API and the Runtime API. A Function serves one invocation at a time, like one
// Lambda execution environment.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvRIE names the variable holding the emulator's path.
const EnvRIE = "TENAZ_RIE"

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Build compiles the Go main package pkg (e.g. "./functions/ingest", relative to the
// module root) as a bootstrap for this host, the way the template builds it for Lambda
// (-tags lambda.norpc, CGO off, stripped), once per test binary. It returns its path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	root := ModuleRoot(t)
	dir, err := os.MkdirTemp("", "tenaz-bootstrap-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(b)))
}

// Function is one bootstrap running under its own emulator.
type Function struct {
	Name   string
	url    string
	cmd    *exec.Cmd
	logs   *lockedBuffer
	client *http.Client
}

// Start runs binary under the emulator with env (KEY=VALUE) added to a minimal
// environment, and waits until the emulator answers. timeout is the function timeout
// the emulator enforces and reports to the handler as its deadline. The process is
// stopped when the test ends; its output is printed if the test failed.
func Start(t testing.TB, name, binary string, timeout time.Duration, env ...string) *Function {
	t.Helper()
	rie := os.Getenv(EnvRIE)
	if rie == "" {
		t.Fatalf("%s is not set: end-to-end tests need the Lambda Runtime Interface Emulator (run them with `make test`)", EnvRIE)
	}
	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		"--log-level", "error",
		binary)
	cmd.Dir = filepath.Dir(binary)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop kills the function with its emulator
	secs := int(timeout / time.Second)
	if secs < 1 {
		secs = 1
	}
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(secs),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
	}, env...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rie, err)
	}
	f := &Function{Name: name, url: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", cmd: cmd, logs: logs,
		client: &http.Client{Timeout: timeout + 10*time.Second}}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			t.Logf("---- %s output ----\n%s", name, logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: emulator did not listen on %s: %v\n%s", name, invokeAddr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Invoke sends event (marshalled to JSON) and decodes the function's answer into out
// (when out is not nil). An error means the invocation failed (the function returned
// an error, crashed or timed out), as the event source would see it.
func (f *Function) Invoke(ctx context.Context, event, out any) error {
	payload, err := json.Marshal(event)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("invoke %s: read: %w", f.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("invoke %s: HTTP %d: %s", f.Name, resp.StatusCode, body)
	}
	var probe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.ErrorType != "" {
		return fmt.Errorf("invoke %s: function error %s: %s", f.Name, probe.ErrorType, probe.ErrorMessage)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("invoke %s: decode %s: %w", f.Name, body, err)
		}
	}
	return nil
}

// Logs returns what the function and the emulator printed so far.
func (f *Function) Logs() string { return f.logs.String() }

// Stop kills the emulator and the function.
func (f *Function) Stop() {
	if f.cmd.Process != nil {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		_, _ = f.cmd.Process.Wait()
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
