package telemetry

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMetricsFlushEMF(t *testing.T) {
	t.Parallel()
	m := NewMetrics(ByType)
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
	if first.AWS.Timestamp != now.UnixMilli() || d.Namespace != "Tenaz" || len(d.Dimensions) != 3 || len(d.Dimensions[0]) != 0 ||
		!slices.Equal(d.Dimensions[1], []string{"source"}) || !slices.Equal(d.Dimensions[2], []string{"source", "type"}) {
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

// TestEventBytes pins EMF lines: members and declarations sorted by name, a
// dimension replacing a counter of the same name, "_aws" replacing both, strings
// escaped as encoding/json escapes them.
func TestEventBytes(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_790_000_000_123)
	cases := []struct {
		dims     map[string]string
		counters map[string]int64
		want     string
	}{
		{map[string]string{"dependency": "crm", "to": "open"}, map[string]int64{"breakerTransition": 1},
			`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["dependency","to"]],"Metrics":[{"Name":"breakerTransition","Unit":"Count"}]}]},"breakerTransition":1,"dependency":"crm","to":"open"}`},
		{map[string]string{"source": "stripe", "type": "a<b>&\"c\"\\"}, map[string]int64{"processed": 3, "duplicate": -2, "deadLettered": 0},
			`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["source","type"]],"Metrics":[{"Name":"deadLettered","Unit":"Count"},{"Name":"duplicate","Unit":"Count"},{"Name":"processed","Unit":"Count"}]}]},"deadLettered":0,"duplicate":-2,"processed":3,"source":"stripe","type":"a\u003cb\u003e\u0026\"c\"\\"}`},
		{map[string]string{"source": "ação\u2028", "type": "\x00\xff"}, map[string]int64{"Zeta": 1, "_a": 2, "alpha": 3},
			`{"Zeta":1,"_a":2,"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["source","type"]],"Metrics":[{"Name":"Zeta","Unit":"Count"},{"Name":"_a","Unit":"Count"},{"Name":"alpha","Unit":"Count"}]}]},"alpha":3,"source":"ação\u2028","type":"\u0000\ufffd"}`},
		{map[string]string{"source": "dimension wins", "type": "t"}, map[string]int64{"source": 7, "n": 1},
			`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["source","type"]],"Metrics":[{"Name":"n","Unit":"Count"},{"Name":"source","Unit":"Count"}]}]},"n":1,"source":"dimension wins","type":"t"}`},
		{map[string]string{"_aws": "hidden"}, map[string]int64{"_aws": 1, "A": 1},
			`{"A":1,"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["_aws"]],"Metrics":[{"Name":"A","Unit":"Count"},{"Name":"_aws","Unit":"Count"}]}]}}`},
		{map[string]string{"Upper": "u"}, map[string]int64{"B": 1},
			`{"B":1,"Upper":"u","_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["Upper"]],"Metrics":[{"Name":"B","Unit":"Count"}]}]}}`},
		{nil, map[string]int64{"only": 1},
			`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[[]],"Metrics":[{"Name":"only","Unit":"Count"}]}]},"only":1}`},
		{map[string]string{"only": "d"}, nil,
			`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[["only"]],"Metrics":[]}]},"only":"d"}`},
		{nil, nil,
			`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[[]],"Metrics":[]}]}}`},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Event(&buf, now, c.dims, c.counters); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != c.want+"\n" {
			t.Errorf("Event(%v, %v):\n got %s\nwant %s", c.dims, c.counters, got, c.want)
		}
	}
}

// FuzzEvent holds an EMF line for any names and values: one JSON object on one
// line that declares every counter and every dimension, sorted by name, and
// carries each value under its name (a dimension's over a counter's, "_aws" over
// both).
func FuzzEvent(f *testing.F) {
	f.Add("source", "stripe", "type", "charge.succeeded", "processed", int64(3), "duplicate", int64(1), int64(1_790_000_000_123))
	f.Add("_aws", "<&>", "Type", "\u2028", "source", int64(-1), "_b", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, d1, v1, d2, v2, c1 string, n1 int64, c2 string, n2, ms int64) {
		// Names and values as a JSON string carries them: each byte that is not UTF-8
		// is U+FFFD.
		valid := func(s string) string { return string([]rune(s)) }
		dims := map[string]string{d1: v1, d2: v2}
		counters := map[string]int64{c1: n1, c2: n2}
		var buf bytes.Buffer
		if err := Event(&buf, time.UnixMilli(ms), dims, counters); err != nil {
			t.Fatal(err)
		}
		line := buf.Bytes()
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("not one line: %q", line)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var meta struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		}
		if err := json.Unmarshal(got["_aws"], &meta); err != nil || len(meta.CloudWatchMetrics) != 1 {
			t.Fatalf("_aws in %s: %v", line, err)
		}
		d := meta.CloudWatchMetrics[0]
		var metricNames []string
		for _, m := range d.Metrics {
			if m.Unit != "Count" {
				t.Fatalf("unit %q in %s", m.Unit, line)
			}
			metricNames = append(metricNames, m.Name)
		}
		wantDims, wantMetrics := []string{}, []string{}
		for _, k := range slices.Sorted(maps.Keys(dims)) {
			wantDims = append(wantDims, valid(k))
		}
		for _, k := range slices.Sorted(maps.Keys(counters)) {
			wantMetrics = append(wantMetrics, valid(k))
		}
		if meta.Timestamp != ms || d.Namespace != Namespace || len(d.Dimensions) != 1 ||
			!slices.Equal(d.Dimensions[0], wantDims) || !slices.Equal(metricNames, wantMetrics) {
			t.Fatalf("_aws = %+v in %s, want dimensions %q metrics %q", meta, line, wantDims, wantMetrics)
		}
		// Names that meet once made valid leave one value for all: they are not checked.
		meet := map[string]int{}
		for name := range maps.Keys(dims) {
			meet[valid(name)]++
		}
		for name := range maps.Keys(counters) {
			if _, ok := dims[name]; !ok {
				meet[valid(name)]++
			}
		}
		for name, n := range counters {
			if _, shadowed := dims[name]; shadowed || name == "_aws" || meet[valid(name)] > 1 {
				continue
			}
			if string(got[valid(name)]) != fmt.Sprint(n) {
				t.Fatalf("counter %q = %s in %s, want %d", name, got[name], line, n)
			}
		}
		for name, v := range dims {
			if name == "_aws" || meet[valid(name)] > 1 {
				continue
			}
			var s string
			if err := json.Unmarshal(got[valid(name)], &s); err != nil || s != valid(v) {
				t.Fatalf("dimension %q = %s in %s, want %q", name, got[name], line, v)
			}
		}
	})
}

// Flush at detail type writes the lines EventSets would write for each (source,
// type), in order.
func TestFlushMatchesEvent(t *testing.T) {
	t.Parallel()
	m := NewMetrics(ByType)
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
	var lines bytes.Buffer
	for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) }) {
		if err := EventSets(&lines, now, map[string]string{"source": k[0], "type": k[1]}, [][]string{{}, {"source"}, {"source", "type"}}, want[k]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), lines.Bytes()) {
		t.Fatalf("Flush wrote\n%s\nwant\n%s", got.Bytes(), lines.Bytes())
	}
}

// The default detail writes one line of totals without dimensions per flush,
// however many sources and types were counted; detail source one line per source.
// Both carry the same totals by counter name.
func TestFlushByOutcomeAndBySource(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_790_000_000_123)
	count := func(m *Metrics) {
		m.Count("processed", "stripe", "charge.succeeded", 3)
		m.Count("processed", "stripe", "charge.refunded", 2)
		m.Count("processed", "github", "push", 4)
		m.Count("deadLettered", "github", "push", 1)
	}
	var out bytes.Buffer
	m := NewMetrics(ByOutcome)
	count(m)
	if err := m.Flush(&out, now); err != nil {
		t.Fatal(err)
	}
	want := `{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[[]],"Metrics":[{"Name":"deadLettered","Unit":"Count"},{"Name":"processed","Unit":"Count"}]}]},"deadLettered":1,"processed":9}` + "\n"
	if out.String() != want {
		t.Fatalf("by outcome:\n got %s\nwant %s", out.String(), want)
	}

	out.Reset()
	m = NewMetrics(BySource)
	count(m)
	if err := m.Flush(&out, now); err != nil {
		t.Fatal(err)
	}
	want = `{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[[],["source"]],"Metrics":[{"Name":"deadLettered","Unit":"Count"},{"Name":"processed","Unit":"Count"}]}]},"deadLettered":1,"processed":4,"source":"github"}` + "\n" +
		`{"_aws":{"Timestamp":1790000000123,"CloudWatchMetrics":[{"Namespace":"Tenaz","Dimensions":[[],["source"]],"Metrics":[{"Name":"processed","Unit":"Count"}]}]},"processed":5,"source":"stripe"}` + "\n"
	if out.String() != want {
		t.Fatalf("by source:\n got %s\nwant %s", out.String(), want)
	}
	out.Reset()
	if err := NewMetrics(ByOutcome).Flush(&out, now); err != nil || out.Len() != 0 {
		t.Fatalf("nothing counted: wrote %q (%v)", out.String(), err)
	}
}

func TestParseDetail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Detail{"": ByOutcome, "outcome": ByOutcome, "Source": BySource, " type ": ByType} {
		if got, ok := ParseDetail(in); !ok || got != want || (in != "" && !strings.EqualFold(strings.TrimSpace(in), got.String())) {
			t.Errorf("ParseDetail(%q) = %v, %v", in, got, ok)
		}
	}
	if _, ok := ParseDetail("everything"); ok {
		t.Error("ParseDetail(everything) ok")
	}
}
