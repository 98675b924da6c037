package telemetry

import (
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Namespace is the CloudWatch namespace of Tenaz's metrics.
const Namespace = "Tenaz"

// Metrics accumulates counters by (source, type) during one invocation and writes
// them as CloudWatch Embedded Metric Format (EMF) lines: one line per (source, type)
// pair, however many records it counted, so metrics cost no extra log lines per
// record. Safe for concurrent use.
type Metrics struct {
	mu     sync.Mutex
	counts map[counterKey]int64
}

type counterKey struct{ source, typ, name string }

// NewMetrics returns an empty accumulator.
func NewMetrics() *Metrics { return &Metrics{} }

// Count adds n to the counter name for source and typ.
func (m *Metrics) Count(name, source, typ string, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = make(map[counterKey]int64, 4)
	}
	m.counts[counterKey{source, typ, name}] += n
}

// Get returns the counter name for source and typ (for tests and the live view).
func (m *Metrics) Get(name, source, typ string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[counterKey{source, typ, name}]
}

// Flush writes one EMF line per (source, type) counted since the last Flush, then
// resets the counters. now stamps the lines.
func (m *Metrics) Flush(w io.Writer, now time.Time) error {
	m.mu.Lock()
	counts := m.counts
	m.counts = nil
	m.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}

	var buf [8]counter
	all := buf[:0]
	for k, n := range counts {
		all = append(all, counter{k, n})
	}
	slices.SortFunc(all, func(a, b counter) int {
		return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.typ, b.typ), cmp.Compare(a.name, b.name))
	})
	line := getLine()
	defer putLine(line)
	var mbuf [10]member
	for len(all) > 0 {
		n := 1
		for n < len(all) && all[n].source == all[0].source && all[n].typ == all[0].typ {
			n++
		}
		members := mbuf[:0]
		for _, c := range all[:n] {
			members = append(members, member{name: c.name, n: c.n})
		}
		members = append(members,
			member{name: "source", text: all[0].source, dimension: true},
			member{name: "type", text: all[0].typ, dimension: true})
		*line = appendEMF((*line)[:0], now, members)
		if _, err := w.Write(*line); err != nil {
			return err
		}
		all = all[n:]
	}
	return nil
}

type counter struct {
	counterKey
	n int64
}

// Event writes one EMF line at once: for rare events (a breaker transition) that
// must not wait for a flush.
func Event(w io.Writer, now time.Time, dimensions map[string]string, counters map[string]int64) error {
	members := make([]member, 0, len(dimensions)+len(counters))
	for name, n := range counters {
		members = append(members, member{name: name, n: n})
	}
	for name, v := range dimensions {
		members = append(members, member{name: name, text: v, dimension: true})
	}
	line := getLine()
	defer putLine(line)
	*line = appendEMF((*line)[:0], now, members)
	_, err := w.Write(*line)
	return err
}

// member is one top-level member of an EMF line: a counter or a dimension.
type member struct {
	name      string
	n         int64  // a counter's value
	text      string // a dimension's value
	dimension bool
}

// appendEMF appends one EMF line (and its newline) declaring the counters among
// members, by the dimensions among them. The line is the JSON object encoding/json
// writes for a map of "_aws" and every member (a dimension replacing a counter of
// the same name): members sorted by name, as are the declarations.
func appendEMF(dst []byte, now time.Time, members []member) []byte {
	// Sorted by name, a dimension before a counter of the same name, which it
	// replaces among the values (both are declared).
	slices.SortFunc(members, func(a, b member) int {
		if c := cmp.Compare(a.name, b.name); c != 0 {
			return c
		}
		switch {
		case a.dimension == b.dimension:
			return 0
		case a.dimension:
			return -1
		}
		return 1
	})

	dst = append(dst, '{')
	aws := false // "_aws" written
	for i, m := range members {
		if i > 0 && members[i-1].name == m.name || m.name == awsKey {
			continue
		}
		if !aws && m.name > awsKey {
			dst = appendAWS(dst, now, members)
			aws = true
		}
		if dst[len(dst)-1] != '{' { // a member came before
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.name)
		dst = append(dst, ':')
		if m.dimension {
			dst = appendString(dst, m.text)
		} else {
			dst = strconv.AppendInt(dst, m.n, 10)
		}
	}
	if !aws {
		dst = appendAWS(dst, now, members)
	}
	return append(dst, '}', '\n')
}

// awsKey is the member holding the EMF metadata.
const awsKey = "_aws"

// appendAWS appends the "_aws" member (after a comma unless it comes first): the
// timestamp and the declaration of members' counters by their dimensions.
func appendAWS(dst []byte, now time.Time, members []member) []byte {
	if dst[len(dst)-1] != '{' { // a member came before: the line opened with '{'
		dst = append(dst, ',')
	}
	dst = append(dst, `"_aws":{"Timestamp":`...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	dst = append(dst, `,"CloudWatchMetrics":[{"Namespace":`...)
	dst = appendString(dst, Namespace)
	dst = append(dst, `,"Dimensions":[[`...)
	first := true
	for _, m := range members {
		if m.dimension {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, m.name)
		}
	}
	dst = append(dst, `]],"Metrics":[`...)
	first = true
	for _, m := range members {
		if !m.dimension {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, `{"Name":`...)
			dst = appendString(dst, m.name)
			dst = append(dst, `,"Unit":"Count"}`...)
		}
	}
	return append(dst, `]}]}`...)
}

// appendString appends s as encoding/json writes a string.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// Rare in metric and dimension names: let encoding/json escape it.
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// lines are the buffers EMF lines are built in, reused across flushes.
var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getLine() *[]byte { return lines.Get().(*[]byte) }

func putLine(b *[]byte) {
	if cap(*b) <= 64<<10 {
		lines.Put(b)
	}
}
