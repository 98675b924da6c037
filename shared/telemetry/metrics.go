package telemetry

import (
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of Tenaz's metrics.
const Namespace = "Tenaz"

// Metrics accumulates counters by (source, type) during one invocation and writes
// them as CloudWatch Embedded Metric Format (EMF) lines: one line per (source, type)
// pair, however many records it counted, so metrics cost no extra log lines per
// record. Safe for concurrent use.
type Metrics struct {
	mu     sync.Mutex
	counts map[series]map[string]int64 // counter name → value, by (source, type)
}

type series struct{ source, typ string }

// NewMetrics returns an empty accumulator.
func NewMetrics() *Metrics { return &Metrics{} }

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

// Flush writes one EMF line per (source, type) counted since the last Flush, sorted
// by source then type, then resets the counters. now stamps the lines.
func (m *Metrics) Flush(w io.Writer, now time.Time) error {
	m.mu.Lock()
	counts := m.counts
	m.counts = nil
	m.mu.Unlock()
	order := slices.SortedFunc(maps.Keys(counts), func(a, b series) int {
		return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.typ, b.typ))
	})
	for _, k := range order {
		if err := Event(w, now, map[string]string{"source": k.source, "type": k.typ}, counts[k]); err != nil {
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
// members sorted by name, as are the declarations. Flush writes its lines with it;
// rare events (a breaker transition) that must not wait for a flush call it
// directly.
func Event(w io.Writer, now time.Time, dimensions map[string]string, counters map[string]int64) error {
	line := make(map[string]any, len(counters)+len(dimensions)+1)
	metrics := make([]emfMetric, 0, len(counters))
	for _, name := range slices.Sorted(maps.Keys(counters)) {
		metrics = append(metrics, emfMetric{Name: name, Unit: "Count"})
		line[name] = counters[name]
	}
	for name, v := range dimensions {
		line[name] = v
	}
	dims := append([]string{}, slices.Sorted(maps.Keys(dimensions))...) // [] when none, not null
	line["_aws"] = emfMeta{Timestamp: now.UnixMilli(), CloudWatchMetrics: []emfDirective{
		{Namespace: Namespace, Dimensions: [][]string{dims}, Metrics: metrics},
	}}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
