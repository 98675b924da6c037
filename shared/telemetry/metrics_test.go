package telemetry

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestMetricsFlushEMF(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); m.Count("processed", "stripe", "charge.succeeded", 1) }()
	}
	wg.Wait()
	m.Count("duplicate", "stripe", "charge.succeeded", 2)
	m.Count("processed", "github", "push", 1)

	var buf bytes.Buffer
	now := time.UnixMilli(1_790_000_000_123)
	if err := m.Flush(&buf, now); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per (source, type):\n%s", len(lines), buf.String())
	}
	var first struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Source    string  `json:"source"`
		Type      string  `json:"type"`
		Processed float64 `json:"processed"`
		Duplicate float64 `json:"duplicate"`
	}
	// Sorted by source: github first, stripe second.
	if err := json.Unmarshal(lines[1], &first); err != nil {
		t.Fatal(err)
	}
	d := first.AWS.CloudWatchMetrics[0]
	if first.AWS.Timestamp != now.UnixMilli() || d.Namespace != "Tenaz" || len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 2 ||
		d.Dimensions[0][0] != "source" || d.Dimensions[0][1] != "type" {
		t.Fatalf("metadata = %+v", first.AWS)
	}
	if first.Source != "stripe" || first.Processed != 50 || first.Duplicate != 2 || len(d.Metrics) != 2 || d.Metrics[0].Unit != "Count" {
		t.Fatalf("line = %s", lines[1])
	}

	buf.Reset()
	if err := m.Flush(&buf, now); err != nil || buf.Len() != 0 {
		t.Fatalf("second flush wrote %q (%v); counters must reset", buf.String(), err)
	}
}

// refEMF is an EMF line as encoding/json writes it for a map of the members and
// "_aws": the reference the hand-written lines must match byte for byte.
func refEMF(t *testing.T, now time.Time, dimensions map[string]string, counters map[string]int64) []byte {
	t.Helper()
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	type meta struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	names := slices.Sorted(maps.Keys(counters))
	dimNames := append([]string{}, slices.Sorted(maps.Keys(dimensions))...)
	line := map[string]any{}
	metrics := make([]metric, 0, len(names))
	for _, n := range names {
		metrics = append(metrics, metric{Name: n, Unit: "Count"})
		line[n] = counters[n]
	}
	for k, v := range dimensions {
		line[k] = v
	}
	line["_aws"] = meta{Timestamp: now.UnixMilli(), CloudWatchMetrics: []directive{{Namespace: Namespace, Dimensions: [][]string{dimNames}, Metrics: metrics}}}
	b, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func checkEvent(t *testing.T, now time.Time, dimensions map[string]string, counters map[string]int64) {
	t.Helper()
	var buf bytes.Buffer
	if err := Event(&buf, now, dimensions, counters); err != nil {
		t.Fatal(err)
	}
	if want := refEMF(t, now, dimensions, counters); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Event(%v, %v):\n got %s\nwant %s", dimensions, counters, buf.Bytes(), want)
	}
}

func TestEventMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_790_000_000_123)
	cases := []struct {
		dims     map[string]string
		counters map[string]int64
	}{
		{map[string]string{"dependency": "crm", "to": "open"}, map[string]int64{"breakerTransition": 1}},
		{map[string]string{"source": "stripe", "type": "a<b>&\"c\"\\"}, map[string]int64{"processed": 3, "duplicate": -2, "deadLettered": 0}},
		{map[string]string{"source": "ação\u2028", "type": "\x00\xff"}, map[string]int64{"Zeta": 1, "_a": 2, "alpha": 3}},
		{map[string]string{"source": "dimension wins", "type": "t"}, map[string]int64{"source": 7, "n": 1}},
		{map[string]string{"_aws": "hidden"}, map[string]int64{"_aws": 1, "A": 1}},
		{map[string]string{"Upper": "u"}, map[string]int64{"B": 1}},
		{nil, map[string]int64{"only": 1}},
		{map[string]string{"only": "d"}, nil},
		{nil, nil},
	}
	for _, c := range cases {
		checkEvent(t, now, c.dims, c.counters)
	}
}

// FuzzEventMatchesJSON holds EMF lines to encoding/json's bytes for any names and
// values.
func FuzzEventMatchesJSON(f *testing.F) {
	f.Add("source", "stripe", "type", "charge.succeeded", "processed", int64(3), "duplicate", int64(1), int64(1_790_000_000_123))
	f.Add("_aws", "<&>", "Type", "\u2028", "source", int64(-1), "_b", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, d1, v1, d2, v2, c1 string, n1 int64, c2 string, n2, ms int64) {
		checkEvent(t, time.UnixMilli(ms), map[string]string{d1: v1, d2: v2}, map[string]int64{c1: n1, c2: n2})
	})
}

// Flush writes the lines Event would write for each (source, type), in order.
func TestFlushMatchesEvent(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	want := map[[2]string]map[string]int64{}
	for i := range 30 {
		src, typ, name := fmt.Sprint("s", i%3), fmt.Sprint("t", i%4), fmt.Sprint("n", i%5)
		m.Count(name, src, typ, int64(i))
		k := [2]string{src, typ}
		if want[k] == nil {
			want[k] = map[string]int64{}
		}
		want[k][name] += int64(i)
	}
	now := time.UnixMilli(1_790_000_000_123)
	var got bytes.Buffer
	if err := m.Flush(&got, now); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) }) {
		lines = append(lines, refEMF(t, now, map[string]string{"source": k[0], "type": k[1]}, want[k])...)
	}
	if !bytes.Equal(got.Bytes(), lines) {
		t.Fatalf("Flush wrote\n%s\nwant\n%s", got.Bytes(), lines)
	}
}
