package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Bench is one line of `go test -bench` output: the benchmark's name without its
// GOMAXPROCS suffix and every value by unit (ns/op, B/op, allocs/op, custom units).
type Bench struct {
	Name   string
	Values map[string]float64
}

// PerRecord returns the value of unit divided by the benchmark's records/op (1 when
// it reports none): a benchmark whose op is a batch of 10 gives figures per record.
// A unit already per record (".../record") is returned as it is.
func (b Bench) PerRecord(unit string) (float64, bool) {
	v, ok := b.Values[unit]
	if !ok {
		return 0, false
	}
	if strings.HasSuffix(unit, "/record") {
		return v, true
	}
	if n, ok := b.Values["records/op"]; ok && n > 0 {
		return v / n, true
	}
	return v, true
}

// ParseBench reads `go test -bench -benchmem` output. Lines that are not results are
// skipped; a result line that cannot be read is an error, not a silent gap. A
// benchmark run several times (-count) gets the median of each unit.
func ParseBench(r io.Reader) (map[string]Bench, error) {
	runs := map[string][]map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a benchmark's log line, not its result
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := Bench{Name: name, Values: map[string]float64{}}
		if (len(f)-2)%2 != 0 {
			return nil, fmt.Errorf("benchmark %s: odd value/unit list %q", name, sc.Text())
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: value %q: %w", name, f[i], err)
			}
			b.Values[f[i+1]] = v
		}
		runs[name] = append(runs[name], b.Values)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]Bench, len(runs))
	for name, rs := range runs {
		b := Bench{Name: name, Values: map[string]float64{}}
		for unit := range rs[0] {
			var vs []float64
			for _, r := range rs {
				if v, ok := r[unit]; ok {
					vs = append(vs, v)
				}
			}
			b.Values[unit] = median(vs)
		}
		out[name] = b
	}
	return out, nil
}

// median of vs (not empty); the mean of the middle two for an even count.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// CPUNs returns the process CPU time per record (cpu-ns/record, or cpu-ns/op divided
// by records/op) when the benchmark measured it. CPU time, not wall time, is what a
// batch that runs its records on every core at once and a floor that runs one call
// at a time can be compared by.
func (b Bench) CPUNs() (float64, bool) {
	if v, ok := b.PerRecord("cpu-ns/record"); ok {
		return v, true
	}
	return b.PerRecord("cpu-ns/op")
}
