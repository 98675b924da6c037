// Command startup measures each Tenaz Lambda's bootstrap beside a hello-world Go
// Lambda (infra/bench/hello) built the same way in the same run. `make bench` runs
// it from the module root:
//
//	go run ./infra/bench/startup [-runs 30] [-out .run/bench] [-timeout 10s]
//
// What it measures:
//
//   - size: every functions/*/main.go and hello, built as the Makefile's lambda_build
//     recipe builds the deploy artifact (linux/arm64, CGO_ENABLED=0, -tags
//     lambda.norpc -trimpath -ldflags='-s -w'), in bytes; target <= 10 MiB. The
//     recipe is checked against the Makefile, so the two cannot drift apart.
//   - start-up: the same functions built for linux on this machine's GOARCH, each
//     started -runs times (after one unrecorded warm-up, in round-robin order),
//     from just before exec to its first GET /2018-06-01/runtime/invocation/next on
//     a fake Runtime API on 127.0.0.1; median and p90 in milliseconds, and the
//     ratio of the median to hello's. The process never gets an invocation: it is
//     killed once it asks for one.
//   - network I/O during init: each process gets the environment Lambda gives it
//     (function name, memory, log format, region, made-up static credentials), the
//     function's settings with the sources inline instead of the secret, and nothing
//     else from the host; AWS_ENDPOINT_URL, the instance metadata endpoint and the
//     route destinations point at a loopback server that counts connections and
//     refuses every request. A connection before the process is killed fails the
//     bench.
//
// What it does not measure: a cold start on Lambda also includes placing and booting
// the Firecracker microVM, downloading and unpacking the code and starting the
// runtime, none of which is the process's; and it runs on arm64 Graviton, not on this
// machine's CPU. Only the process's own init is measured, the part a function's code
// and size change; the ratio to hello is what carries over to Lambda. The binary
// started is already in the page cache, as the warm-up makes sure.
//
// It prints a table and writes DIR/startup.json:
//
//	{"runs": 30, "goarch": "amd64", "functions": [{"name": "ingest", "bytes": 9437184,
//	  "startupMedianMs": 11.2, "startupP90Ms": 13.9, "networkDuringInit": 0}, ...,
//	  {"name": "hello", ...}]}
//
// Exit status 1 when a build or a start-up fails or a function connects during init;
// a size over the target is printed, not an error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// targetBytes is the size target of a stripped bootstrap: 10 MiB.
const targetBytes = 10 << 20

// deployArch is the GOARCH of the deploy artifact (template.yaml: arm64).
const deployArch = "arm64"

func main() {
	runs := flag.Int("runs", 30, "start-ups measured per function")
	out := flag.String("out", ".run/bench", "directory startup.json is written to")
	timeout := flag.Duration("timeout", 10*time.Second, "longest wait for one start-up's first Runtime API request")
	flag.Parse()
	if err := run(os.Stdout, os.Stderr, *runs, *out, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

// Report is startup.json.
type Report struct {
	Runs      int       `json:"runs"`
	GOARCH    string    `json:"goarch"` // of the start-up measurements; sizes are arm64
	Functions []Figures `json:"functions"`
}

// Figures are one function's measurements.
type Figures struct {
	Name              string  `json:"name"`
	Bytes             int64   `json:"bytes"` // arm64 stripped bootstrap
	StartupMedianMs   float64 `json:"startupMedianMs"`
	StartupP90Ms      float64 `json:"startupP90Ms"`
	NetworkDuringInit int     `json:"networkDuringInit"` // connections to the loopback endpoints over all start-ups, warm-up included
}

func run(stdout, progress io.Writer, runs int, outDir string, timeout time.Duration) error {
	if runs < 1 {
		return fmt.Errorf("-runs %d: need at least 1", runs)
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("start-up is measured by running linux binaries; this is %s", runtime.GOOS)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return err
	}
	if err := checkRecipe(makefile); err != nil {
		return err
	}
	fns, err := functions(root)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tenaz-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	hostArch := runtime.GOARCH
	figs := make([]Figures, len(fns))
	bins := make([]string, len(fns))
	began := time.Now()
	for i, fn := range fns {
		fmt.Fprintf(progress, "startup: build %s (linux/%s", fn.name, deployArch)
		if hostArch != deployArch {
			fmt.Fprintf(progress, ", linux/%s", hostArch)
		}
		fmt.Fprintln(progress, ")")
		deployed, err := build(root, dir, deployArch, fn)
		if err != nil {
			return err
		}
		if figs[i].Bytes, err = strippedSize(deployed, deployArch); err != nil {
			return err
		}
		figs[i].Name = fn.name
		bins[i] = deployed
		if hostArch != deployArch {
			if bins[i], err = build(root, dir, hostArch, fn); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(progress, "startup: built in %v; %d start-ups of each on linux/%s\n", time.Since(began).Round(time.Millisecond), runs, hostArch)

	began = time.Now()
	times := make([][]float64, len(fns))
	for round := -1; round < runs; round++ { // round -1 warms up
		for i, fn := range fns {
			env := func(endpoint string) []string { return lambdaEnv(fn, endpoint) }
			r, err := measure(bins[i], env, timeout)
			if err != nil {
				return fmt.Errorf("%s: %w", fn.name, err)
			}
			figs[i].NetworkDuringInit += r.conns
			if round >= 0 {
				times[i] = append(times[i], millis(r.startup))
			}
		}
	}
	fmt.Fprintf(progress, "startup: measured in %v\n", time.Since(began).Round(time.Millisecond))
	for i := range figs {
		figs[i].StartupMedianMs = round3(percentile(times[i], 50))
		figs[i].StartupP90Ms = round3(percentile(times[i], 90))
	}

	rep := Report{Runs: runs, GOARCH: hostArch, Functions: figs}
	if err := writeTable(stdout, rep); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "startup.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var noisy []string
	for _, f := range figs {
		if f.NetworkDuringInit > 0 {
			noisy = append(noisy, fmt.Sprintf("%s (%d connections in %d start-ups)", f.Name, f.NetworkDuringInit, runs+1))
		}
	}
	if len(noisy) > 0 {
		return errors.New("network I/O during init: " + strings.Join(noisy, ", "))
	}
	return nil
}

// writeTable prints one row per function; hello's median is the ratio's base.
func writeTable(w io.Writer, rep Report) error {
	var hello float64
	for _, f := range rep.Functions {
		if f.Name == helloName {
			hello = f.StartupMedianMs
		}
	}
	fmt.Fprintf(w, "Bootstraps: linux/%s stripped, target <= %d MiB. Start-up: linux/%s on this machine, %d runs, exec to the first Runtime API request (process init only).\n",
		deployArch, targetBytes>>20, rep.GOARCH, rep.Runs)
	row := "%-10s %12s %6s %9s %10s %8s %8s %11s\n"
	if _, err := fmt.Fprintf(w, row, "function", "arm64 bytes", "MiB", "<= 10 MiB", "median ms", "p90 ms", "x hello", "init conns"); err != nil {
		return err
	}
	for _, f := range rep.Functions {
		met := "yes"
		if f.Bytes > targetBytes {
			met = "NO"
		}
		ratio := "-"
		if hello > 0 {
			ratio = fmt.Sprintf("%.2f", f.StartupMedianMs/hello)
		}
		if _, err := fmt.Fprintf(w, row, f.Name, fmt.Sprint(f.Bytes), fmt.Sprintf("%.2f", float64(f.Bytes)/(1<<20)), met,
			fmt.Sprintf("%.2f", f.StartupMedianMs), fmt.Sprintf("%.2f", f.StartupP90Ms), ratio, fmt.Sprint(f.NetworkDuringInit)); err != nil {
			return err
		}
	}
	return nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// moduleRoot is the directory of the go.mod go commands here use.
func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the Tenaz checkout")
	}
	return filepath.Dir(gomod), nil
}
