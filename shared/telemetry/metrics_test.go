package telemetry

import (
	"bytes"
	"encoding/json"
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
