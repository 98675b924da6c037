package telemetry

import (
	"encoding/json"
	"io"
	"sort"
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
	counts map[dims]map[string]int64
}

type dims struct{ source, typ string }

// NewMetrics returns an empty accumulator.
func NewMetrics() *Metrics { return &Metrics{counts: map[dims]map[string]int64{}} }

// Count adds n to the counter name for source and typ.
func (m *Metrics) Count(name, source, typ string, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := dims{source, typ}
	c := m.counts[d]
	if c == nil {
		c = map[string]int64{}
		m.counts[d] = c
	}
	c[name] += n
}

// Get returns the counter name for source and typ (for tests and the live view).
func (m *Metrics) Get(name, source, typ string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[dims{source, typ}][name]
}

// Flush writes one EMF line per (source, type) counted since the last Flush, then
// resets the counters. now stamps the lines.
func (m *Metrics) Flush(w io.Writer, now time.Time) error {
	m.mu.Lock()
	counts := m.counts
	m.counts = map[dims]map[string]int64{}
	m.mu.Unlock()

	keys := make([]dims, 0, len(counts))
	for d := range counts {
		keys = append(keys, d)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].source != keys[j].source {
			return keys[i].source < keys[j].source
		}
		return keys[i].typ < keys[j].typ
	})
	for _, d := range keys {
		if err := writeEMF(w, now, map[string]string{"source": d.source, "type": d.typ}, counts[d]); err != nil {
			return err
		}
	}
	return nil
}

// Event writes one EMF line at once: for rare events (a breaker transition) that
// must not wait for a flush.
func Event(w io.Writer, now time.Time, dimensions map[string]string, counters map[string]int64) error {
	return writeEMF(w, now, dimensions, counters)
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

func writeEMF(w io.Writer, now time.Time, dimensions map[string]string, counters map[string]int64) error {
	names := make([]string, 0, len(counters))
	for n := range counters {
		names = append(names, n)
	}
	sort.Strings(names)
	dimNames := make([]string, 0, len(dimensions))
	for n := range dimensions {
		dimNames = append(dimNames, n)
	}
	sort.Strings(dimNames)

	line := make(map[string]any, len(counters)+len(dimensions)+1)
	metrics := make([]emfMetric, 0, len(names))
	for _, n := range names {
		metrics = append(metrics, emfMetric{Name: n, Unit: "Count"})
		line[n] = counters[n]
	}
	for k, v := range dimensions {
		line[k] = v
	}
	line["_aws"] = emfMeta{
		Timestamp:         now.UnixMilli(),
		CloudWatchMetrics: []emfDirective{{Namespace: Namespace, Dimensions: [][]string{dimNames}, Metrics: metrics}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
