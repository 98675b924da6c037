package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/tenaz/tenaz/shared/ingest
BenchmarkIngestMemory-2          	  300000	      3000 ns/op	    1200 B/op	       9 allocs/op
BenchmarkIngestMemory-2          	  300000	      2000 ns/op	    1200 B/op	       9 allocs/op
BenchmarkIngestMemory-2          	  300000	      9000 ns/op	    1200 B/op	       9 allocs/op
BenchmarkIngestInvoke-2          	   30000	     12000 ns/op	     13000 cpu-ns/op	   30000 B/op	     100 allocs/op
BenchmarkIngestRuntimeCodec-2    	   40000	      9000 ns/op	     10000 cpu-ns/op	   24000 B/op	      91 allocs/op
BenchmarkIngestSQS-2             	   50000	     24000 ns/op	   20000 B/op	     200 allocs/op
BenchmarkIngestSQSFloor-2        	   60000	     20000 ns/op	   18000 B/op	     188 allocs/op
pkg: github.com/tenaz/tenaz/shared/processor
BenchmarkProcessRecord-2         	   10000	     80000 ns/op	        10.00 records/op	   30000 B/op	     150 allocs/op
    bench_test.go:10: a log line from a benchmark
BenchmarkProcessRecordDynamo-2   	    2000	    650000 ns/op	         2.000 ddb-calls/record	    121000 cpu-ns/record	        10.00 records/op	  700000 B/op	    6980 allocs/op
BenchmarkProcessRecordDynamoFloor-2	   15000	     80000 ns/op	         2.000 ddb-calls/record	    112000 cpu-ns/record	         1.000 records/op	   60000 B/op	     682 allocs/op
BenchmarkHappyPathParallel-2     	 1000000	        50 ns/op	         0.0001 reads/op	         0 writes/op	       0 B/op	       0 allocs/op
PASS
`

// Benchmark lines are read with every unit, the GOMAXPROCS suffix dropped, and
// log lines skipped; per-record figures divide by records/op; a benchmark run three
// times gets the median of each unit (3000 of 2000, 3000 and 9000 ns).
func TestParseBench(t *testing.T) {
	got, err := ParseBench(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("%d benchmarks: %v", len(got), got)
	}
	p := got["ProcessRecord"]
	if v, _ := p.PerRecord("ns/op"); v != 8000 {
		t.Fatalf("ProcessRecord ns/record = %v, want 8000", v)
	}
	if v, _ := p.PerRecord("allocs/op"); v != 15 {
		t.Fatalf("ProcessRecord allocs/record = %v, want 15", v)
	}
	if v, _ := got["IngestMemory"].PerRecord("ns/op"); v != 3000 {
		t.Fatalf("IngestMemory ns = %v", v)
	}
	if got["HappyPathParallel"].Values["reads/op"] != 0.0001 {
		t.Fatalf("custom unit lost: %v", got["HappyPathParallel"].Values)
	}
	if _, err := ParseBench(strings.NewReader("BenchmarkX-2 10 abc ns/op\n")); err == nil {
		t.Fatal("a malformed value was accepted")
	}
}

func row(t *testing.T, rows []Row, prefix string) Row {
	t.Helper()
	for _, r := range rows {
		if strings.HasPrefix(r.Figure, prefix) {
			return r
		}
	}
	t.Fatalf("no row %q in %v", prefix, rows)
	return Row{}
}

// Own code with the SDK is the total minus the floor, shown beside it; own code's time
// and allocations are information, with no target; the runtime's decode and the whole
// invocation are shown beside ingest alone; a missing input is a row that misses its
// target.
func TestBuild(t *testing.T) {
	b, err := ParseBench(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var req Requests
	if err := json.Unmarshal([]byte(`{"webhooks": 50, "batchSize": 10, "breakerReadsPerRecord": 0.02, "scenarios": [
	  {"name": "happy", "webhooks": 50, "perWebhook": {"apiGateway": 1, "lambdaInvokes": 1.1, "sqs": 1.2, "dynamodbReads": 0, "dynamodbWrites": 2, "billable": 5.3}},
	  {"name": "duplicate", "webhooks": 50, "perWebhook": {"apiGateway": 1, "lambdaInvokes": 1.1, "sqs": 1.2, "dynamodbReads": 0, "dynamodbWrites": 1, "billable": 4.3}}]}`), &req); err != nil {
		t.Fatal(err)
	}
	rows := Build(Inputs{Bench: b, Requests: &req})

	if r := row(t, rows, "ingest, in-memory queue, ns/webhook"); r.Met != "" || r.Target != "" || r.Measured != "3000 ns" {
		t.Fatalf("ingest memory row %+v", r)
	}
	// 18 allocations once missed a target of 10; they are now information.
	if r := row(t, rows, "ingest, in-memory queue, allocs/webhook"); r.Met != "" || r.Target != "" || r.Measured != "9.0" {
		t.Fatalf("ingest memory allocs row %+v", r)
	}
	if r := row(t, rows, "ingest, Lambda runtime's decode of the event + encode of the answer, ns/webhook"); r.Measured != "9000 ns (cpu 10.0 µs)" ||
		r.Baseline != "3000 ns (ingest alone)" || r.Ratio != "3.00x" || r.Met != "" {
		t.Fatalf("runtime codec row %+v", r)
	}
	if r := row(t, rows, "ingest, Lambda runtime's decode of the event + encode of the answer, allocs/webhook"); r.Measured != "91.0" || r.Met != "" {
		t.Fatalf("runtime codec allocs row %+v", r)
	}
	if r := row(t, rows, "ingest per invocation (runtime decode + ingest + encode), in-memory queue, ns/webhook"); r.Measured != "12.0 µs (cpu 13.0 µs)" ||
		r.Baseline != "3000 ns (ingest alone)" || r.Ratio != "4.00x" || r.Met != "" {
		t.Fatalf("invocation row %+v", r)
	}
	if r := row(t, rows, "ingest per invocation (runtime decode + ingest + encode), in-memory queue, allocs/webhook"); r.Measured != "100.0" || r.Met != "" {
		t.Fatalf("invocation allocs row %+v", r)
	}
	r := row(t, rows, "ingest, SQS SDK on loopback, ns/webhook")
	if !strings.Contains(r.Measured, "own 4000 ns") || r.Ratio != "1.20x" || r.Met != "" {
		t.Fatalf("ingest SDK row %+v", r)
	}
	// 12 own allocations are shown, not judged.
	if r := row(t, rows, "ingest, SQS SDK on loopback, allocs/webhook"); !strings.Contains(r.Measured, "own 12.0") || r.Met != "" || r.Target != "" {
		t.Fatalf("ingest SDK allocs row %+v", r)
	}
	for _, r := range rows {
		own := strings.HasPrefix(r.Figure, "ingest") || strings.HasPrefix(r.Figure, "processor")
		if own && !strings.HasPrefix(r.Measured, "missing") && (r.Target != "" || r.Met != "") {
			t.Fatalf("own code's row has a target: %+v", r)
		}
	}
	if r := row(t, rows, "processor, in-memory store, batch of 10, ns/record"); r.Measured != "8000 ns" || r.Met != "" {
		t.Fatalf("processor row %+v", r)
	}
	// The batch's wall time per record (65 µs) is below the floor's (80 µs) because it
	// runs on two cores; CPU time compares them: 121 - 112 = 9 µs of own code.
	if r := row(t, rows, "processor, DynamoDB SDK on loopback, cpu ns/record"); !strings.Contains(r.Measured, "own 9000 ns") || r.Ratio != "1.08x" || r.Met != "" {
		t.Fatalf("processor SDK row %+v", r)
	}
	if r := row(t, rows, "processor, DynamoDB SDK on loopback, allocs/record"); !strings.Contains(r.Measured, "own 16.0") || r.Met != "" {
		t.Fatalf("processor SDK allocs row %+v", r)
	}
	if r := row(t, rows, "processor duplicate, DynamoDB SDK on loopback"); r.Met != "NO" || r.Target != "measured" || !strings.HasPrefix(r.Measured, "missing") {
		t.Fatalf("a missing benchmark must be a missed row: %+v", r)
	}
	if r := row(t, rows, "billable requests per webhook, happy"); r.Met != "yes" || !strings.HasPrefix(r.Measured, "5.30 = 1.00") {
		t.Fatalf("happy row %+v", r)
	}
	if r := row(t, rows, "DynamoDB idempotency calls per duplicate delivery"); r.Met != "yes" {
		t.Fatalf("duplicate row %+v", r)
	}
	if r := row(t, rows, "breaker reads per record, happy path on moto"); r.Met != "NO" {
		t.Fatalf("0.02 reads per record must miss <= 0.01: %+v", r)
	}
	if r := row(t, rows, "bootstrap size"); r.Met != "NO" {
		t.Fatalf("no startup.json must be a missed row: %+v", r)
	}
	if Missed(rows) < 4 {
		t.Fatalf("missed %d rows, want at least 4", Missed(rows))
	}
	var out bytes.Buffer
	Print(&out, rows)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(rows)+2 || !strings.HasPrefix(lines[0], "figure") {
		t.Fatalf("table of %d lines for %d rows:\n%s", len(lines), len(rows), out.String())
	}
}

// Without the invocation benchmarks their rows say so and miss; without ingest alone
// the runtime's rows are shown with no baseline.
func TestBuildInvocationInputs(t *testing.T) {
	b, err := ParseBench(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	codec := "ingest, Lambda runtime's decode of the event + encode of the answer, ns/webhook"
	invoke := "ingest per invocation (runtime decode + ingest + encode), in-memory queue, ns/webhook"

	noAlone := map[string]Bench{}
	for k, v := range b {
		if k != "IngestMemory" {
			noAlone[k] = v
		}
	}
	rows := Build(Inputs{Bench: noAlone})
	if r := row(t, rows, codec); r.Measured != "9000 ns (cpu 10.0 µs)" || r.Baseline != "" || r.Ratio != "" || r.Met != "" {
		t.Fatalf("runtime codec row without ingest alone %+v", r)
	}
	if r := row(t, rows, "ingest, in-memory queue, ns/webhook"); r.Met != "NO" || r.Measured != "missing: BenchmarkIngestMemory" {
		t.Fatalf("missing ingest alone %+v", r)
	}

	rows = Build(Inputs{Bench: map[string]Bench{"IngestMemory": b["IngestMemory"]}})
	for _, f := range []string{codec, invoke} {
		if r := row(t, rows, f); r.Met != "NO" || r.Target != "measured" || !strings.HasPrefix(r.Measured, "missing: Benchmark") {
			t.Fatalf("a missing invocation benchmark must be a missed row: %+v", r)
		}
	}
	if r := row(t, rows, "ingest, in-memory queue, ns/webhook"); r.Met != "" {
		t.Fatalf("ingest alone %+v", r)
	}
}

// The idle cost is one row per item and a total judged against its target: met at
// or below it, missed above.
func TestBuildIdleCost(t *testing.T) {
	var c Cost
	if err := json.Unmarshal([]byte(`{"pricesAsOf": "2026-11-01", "fixedMonthlyUsd": 0.663, "idleTargetUsd": 1,
	  "idleItems": [{"name": "idle queue polls", "usd": 0.263}, {"name": "alarms", "usd": 0.4}, {"name": "dashboard", "usd": 0}]}`), &c); err != nil {
		t.Fatal(err)
	}
	rows := Build(Inputs{Cost: &c})
	if r := row(t, rows, "idle cost per month, alarms"); r.Measured != "$0.400" || r.Target != "" {
		t.Fatalf("alarms row %+v", r)
	}
	if r := row(t, rows, "idle cost per month, dashboard"); r.Measured != "$0.000" {
		t.Fatalf("dashboard row %+v", r)
	}
	total := "idle cost per month at the template's defaults"
	if r := row(t, rows, total); r.Measured != "$0.663" || r.Target != "<= $1.00" || r.Met != "yes" {
		t.Fatalf("idle total row %+v", r)
	}
	c.Fixed = 1.02
	if r := row(t, Build(Inputs{Cost: &c}), total); r.Met != "NO" {
		t.Fatalf("$1.02 must miss <= $1.00: %+v", r)
	}
}

// Large bodies: the claim check's S3 requests are in the billable row, and the
// cost rows name each scenario's body size; only the 2 KB happy path has a target.
func TestBuildLargeBodies(t *testing.T) {
	var req Requests
	if err := json.Unmarshal([]byte(`{"webhooks": 50, "batchSize": 10, "scenarios": [
	  {"name": "happy 1 MB", "webhooks": 10, "perWebhook": {"apiGateway": 1, "lambdaInvokes": 1.1, "sqs": 1.2, "dynamodbWrites": 2, "s3Puts": 1, "s3Gets": 1, "billable": 7.3}}]}`), &req); err != nil {
		t.Fatal(err)
	}
	var c Cost
	if err := json.Unmarshal([]byte(`{"pricesAsOf": "2026-11-01", "scenarios": [
	  {"name": "happy", "bodyBytes": 2048, "httpApiUsdPerMillion": 3.0, "functionUrlUsdPerMillion": 2.0},
	  {"name": "happy 100 KB", "bodyBytes": 100000, "httpApiUsdPerMillion": 4.0, "functionUrlUsdPerMillion": 3.0},
	  {"name": "happy 1 MB", "bodyBytes": 1000000, "httpApiUsdPerMillion": 9.5, "functionUrlUsdPerMillion": 7.5}]}`), &c); err != nil {
		t.Fatal(err)
	}
	rows := Build(Inputs{Requests: &req, Cost: &c})
	if r := row(t, rows, "billable requests per webhook, happy 1 MB"); !strings.Contains(r.Figure, "S3 PUT + GET") || r.Measured != "7.30 = 1.00 + 1.10 + 1.20 + 0.00 + 2.00 + 1.00 + 1.00" {
		t.Fatalf("1 MB billable row %+v", r)
	}
	if r := row(t, rows, "cost per million 2 KB webhooks, happy, HTTP API"); r.Target == "" || r.Met != "yes" {
		t.Fatalf("2 KB cost row %+v", r)
	}
	if r := row(t, rows, "cost per million 100 KB webhooks, happy 100 KB, HTTP API"); r.Measured != "$4.000" || r.Target != "" {
		t.Fatalf("100 KB cost row %+v", r)
	}
	if r := row(t, rows, "cost per million 1 MB webhooks, happy 1 MB, function URL"); r.Measured != "$7.500" || r.Target != "" {
		t.Fatalf("1 MB cost row %+v", r)
	}
}
