// Command report prints the one table of `make bench` from the files the run wrote
// in its directory: bench.txt (go test -bench), requests.json and ddb-calls.txt (moto),
// startup.json (infra/bench/startup) and cost.json (infra/bench/cost). A row with a
// target says whether it is met; own code's time and allocations are shown without
// one, as information. A missing input is a row that says so.
//
//	go run ./infra/bench/report -dir .run/bench
//
// Exit status: 0 when every target is met, 3 when one is missed, 1 when an input
// cannot be read.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("dir", ".run/bench", "directory of one bench run")
	flag.Parse()
	in, err := load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	rows := Build(in)
	Print(os.Stdout, rows)
	if n := Missed(rows); n > 0 {
		fmt.Printf("\n%d figure(s) miss their target (met = NO).\n", n)
		os.Exit(3)
	}
}

// load reads what exists of one run's files; an absent file leaves its input nil.
func load(dir string) (Inputs, error) {
	var in Inputs
	f, err := os.Open(filepath.Join(dir, "bench.txt"))
	if err != nil {
		return in, err
	}
	defer f.Close()
	if in.Bench, err = ParseBench(f); err != nil {
		return in, err
	}
	for name, dst := range map[string]any{"requests.json": &in.Requests, "startup.json": &in.Startup, "cost.json": &in.Cost} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return in, err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return in, fmt.Errorf("%s: %w", name, err)
		}
	}
	if calls, err := os.Open(filepath.Join(dir, "ddb-calls.txt")); err == nil {
		defer calls.Close()
		in.DDBCalls = map[string]float64{}
		sc := bufio.NewScanner(calls)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				in.DDBCalls[f[0]] = v
			}
		}
	}
	return in, nil
}
