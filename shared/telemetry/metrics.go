package telemetry

import (
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of Tenaz's metrics.
const Namespace = "Tenaz"

// Detail is how finely the counters are broken down, and so how many CloudWatch
// metrics they can make: CloudWatch bills each metric name x dimension values that
// receives data ($0.30 a month at the first tier for one that receives data every
// hour), so detail is chosen by the operator, not by the traffic.
type Detail int

// Details, each including the ones before it.
const (
	// ByOutcome counts each counter over every source and type, without
	// dimensions: one metric per counter name (the default).
	ByOutcome Detail = iota
	// BySource adds one metric per counter name and source (dimension source).
	BySource
	// ByType adds one metric per counter name, source and type (dimensions source,
	// type).
	ByType
)

// ParseDetail reads a detail name: outcome, source or type (case-insensitive).
// Empty means outcome. An unknown name is reported as ok=false and gives ByOutcome.
func ParseDetail(name string) (d Detail, ok bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "outcome":
		return ByOutcome, true
	case "source":
		return BySource, true
	case "type":
		return ByType, true
	}
	return ByOutcome, false
}

func (d Detail) String() string {
	switch d {
	case BySource:
		return "source"
	case ByType:
		return "type"
	}
	return "outcome"
}

// Metrics accumulates counters by (source, type) during one invocation and writes
// them as CloudWatch Embedded Metric Format (EMF) lines at its Detail: one line per
// flush (ByOutcome), per source (BySource) or per (source, type) pair (ByType),
// however many records it counted, so metrics cost no extra log lines per record.
// Safe for concurrent use.
type Metrics struct {
	detail Detail
	mu     sync.Mutex
	counts map[series]map[string]int64 // counter name → value, by (source, type)
}

type series struct{ source, typ string }

// NewMetrics returns an empty accumulator that flushes at detail d.
func NewMetrics(d Detail) *Metrics { return &Metrics{detail: d} }

// Count adds n to the counter name for source and typ.
func (m *Metrics) Count(name, source, typ string, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = make(map[series]map[string]int64)
	}
	k := series{source, typ}
	if m.counts[k] == nil {
		m.counts[k] = make(map[string]int64)
	}
	m.counts[k][name] += n
}

// Get returns the counter name for source and typ (for tests and the live view).
func (m *Metrics) Get(name, source, typ string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[series{source, typ}][name]
}

// Flush writes the counters counted since the last Flush and resets them; now
// stamps the lines. ByOutcome writes one line of totals without dimensions;
// BySource one line per source, sorted, declaring the dimension sets [] and
// [source]; ByType one line per (source, type), sorted by source then type,
// declaring [], [source] and [source, type]. Every line declares the set []: the
// totals by counter name are the same metrics at every detail.
func (m *Metrics) Flush(w io.Writer, now time.Time) error {
	m.mu.Lock()
	counts := m.counts
	m.counts = nil
	m.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	// Fold the series into the detail's keys.
	folded := make(map[series]map[string]int64, len(counts))
	for k, c := range counts {
		switch m.detail {
		case ByOutcome:
			k = series{}
		case BySource:
			k.typ = ""
		}
		if folded[k] == nil {
			folded[k] = make(map[string]int64, len(c))
		}
		for name, n := range c {
			folded[k][name] += n
		}
	}
	order := slices.SortedFunc(maps.Keys(folded), func(a, b series) int {
		return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.typ, b.typ))
	})
	for _, k := range order {
		var dims map[string]string
		sets := [][]string{{}}
		switch m.detail {
		case BySource:
			dims = map[string]string{"source": k.source}
			sets = append(sets, []string{"source"})
		case ByType:
			dims = map[string]string{"source": k.source, "type": k.typ}
			sets = append(sets, []string{"source"}, []string{"source", "type"})
		}
		if err := EventSets(w, now, dims, sets, folded[k]); err != nil {
			return err
		}
	}
	return nil
}

// emfMeta is the "_aws" member of an EMF line: the timestamp and the declaration of
// the line's counters by its dimensions.
type emfMeta struct {
	Timestamp         int64 // Unix milliseconds
	CloudWatchMetrics []emfDirective
}

type emfDirective struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []emfMetric
}

type emfMetric struct{ Name, Unit string }

// Event writes one EMF line: a JSON object of "_aws", the counters and the
// dimensions (a dimension replaces a counter of the same name; both are declared),
// members sorted by name, as are the declarations; the counters are declared by the
// one dimension set of every dimension. Rare events (a breaker transition) that
// must not wait for a flush call it directly.
func Event(w io.Writer, now time.Time, dimensions map[string]string, counters map[string]int64) error {
	dims := append([]string{}, slices.Sorted(maps.Keys(dimensions))...) // [] when none, not null
	return EventSets(w, now, dimensions, [][]string{dims}, counters)
}

// EventSets is Event with the counters declared by each of sets, dimension sets
// whose names are keys of dimensions (CloudWatch makes one metric per counter and
// set). Flush writes its lines with it.
func EventSets(w io.Writer, now time.Time, dimensions map[string]string, sets [][]string, counters map[string]int64) error {
	line := make(map[string]any, len(counters)+len(dimensions)+1)
	metrics := make([]emfMetric, 0, len(counters))
	for _, name := range slices.Sorted(maps.Keys(counters)) {
		metrics = append(metrics, emfMetric{Name: name, Unit: "Count"})
		line[name] = counters[name]
	}
	for name, v := range dimensions {
		line[name] = v
	}
	line["_aws"] = emfMeta{Timestamp: now.UnixMilli(), CloudWatchMetrics: []emfDirective{
		{Namespace: Namespace, Dimensions: sets, Metrics: metrics},
	}}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
