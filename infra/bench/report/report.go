package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Row is one line of the table: a figure, what was measured, the baseline measured
// beside it in the same run (the SDK-only floor, the hello-world Lambda), their
// ratio, the target and whether it is met.
type Row struct {
	Figure   string
	Measured string
	Baseline string
	Ratio    string
	Target   string
	Met      string // "yes", "NO", or "" when the figure has no target
}

// Inputs are the files one `make bench` run produced.
type Inputs struct {
	Bench    map[string]Bench
	Requests *Requests
	DDBCalls map[string]float64 // happy_per_record, duplicate_per_record, records
	Startup  *Startup
	Cost     *Cost
}

// Requests is requests.json, written by the billing test on moto.
type Requests struct {
	Webhooks              int     `json:"webhooks"`
	BatchSize             int     `json:"batchSize"`
	BreakerReadsPerRecord float64 `json:"breakerReadsPerRecord"`
	Scenarios             []struct {
		Name       string `json:"name"`
		Webhooks   int    `json:"webhooks"`
		PerWebhook struct {
			APIGateway     float64 `json:"apiGateway"`
			LambdaInvokes  float64 `json:"lambdaInvokes"`
			SQS            float64 `json:"sqs"` // in 64 KB chunks
			DynamoDBReads  float64 `json:"dynamodbReads"`
			DynamoDBWrites float64 `json:"dynamodbWrites"`
			S3Puts         float64 `json:"s3Puts"`
			S3Gets         float64 `json:"s3Gets"`
			Billable       float64 `json:"billable"`
		} `json:"perWebhook"`
	} `json:"scenarios"`
}

// Startup is startup.json, written by infra/bench/startup.
type Startup struct {
	Runs      int    `json:"runs"`
	GOARCH    string `json:"goarch"`
	Functions []struct {
		Name              string  `json:"name"`
		Bytes             int64   `json:"bytes"`
		StartupMedianMs   float64 `json:"startupMedianMs"`
		StartupP90Ms      float64 `json:"startupP90Ms"`
		NetworkDuringInit int     `json:"networkDuringInit"`
	} `json:"functions"`
}

// Cost is cost.json, written by infra/bench/cost.
type Cost struct {
	PricesAsOf string `json:"pricesAsOf"`
	Region     string `json:"region"`
	Scenarios  []struct {
		Name        string  `json:"name"`
		BodyBytes   int     `json:"bodyBytes"`
		HTTPAPI     float64 `json:"httpApiUsdPerMillion"`
		FunctionURL float64 `json:"functionUrlUsdPerMillion"`
	} `json:"scenarios"`
	Fixed      float64 `json:"fixedMonthlyUsd"` // idle cost per month at the template's defaults
	IdleTarget float64 `json:"idleTargetUsd"`
	IdleItems  []struct {
		Name string  `json:"name"`
		USD  float64 `json:"usd"`
	} `json:"idleItems"`
}

// Targets of the proof, in the units of the rows. The figures users pay for or wait on
// have one: billable requests, cost, binary size, start-up. Own code's time and
// allocations are shown as information, without a target.
const (
	happyBillable   = 5.4
	happyDDBWrites  = 2
	breakerReads    = 0.01
	binaryBytes     = 10 << 20
	costHTTPAPI     = 3.05
	costFunctionURL = 2.10
)

// Build turns the inputs into the table's rows. A figure whose input is missing is a
// row that says so and misses its target (for a figure shown without one, that it is
// measured): nothing is dropped silently.
func Build(in Inputs) []Row {
	var rows []Row
	add := func(r Row) { rows = append(rows, r) }
	missing := func(figure, target, what string) {
		if target == "" {
			target = "measured"
		}
		add(Row{Figure: figure, Measured: "missing: " + what, Target: target, Met: "NO"})
	}
	// timed returns b's time per record, with its CPU time when it measured it.
	timed := func(b Bench) string {
		v, _ := b.PerRecord("ns/op")
		s := ns(v)
		if cpu, ok := b.CPUNs(); ok {
			s += " (cpu " + ns(cpu) + ")"
		}
		return s
	}

	// Own code, in memory and with the SDK over a loopback transport.
	own := func(label, bench, floor, unitLabel string) {
		b, ok := in.Bench[bench]
		if !ok {
			missing(label+" ns/"+unitLabel, "", "Benchmark"+bench)
			return
		}
		bns, _ := b.PerRecord("ns/op")
		bal, _ := b.PerRecord("allocs/op")
		if floor == "" {
			add(Row{Figure: label + " ns/" + unitLabel, Measured: timed(b)})
			add(Row{Figure: label + " allocs/" + unitLabel, Measured: num(bal)})
			return
		}
		f, ok := in.Bench[floor]
		if !ok {
			missing(label+" ns/"+unitLabel, "", "Benchmark"+floor)
			return
		}
		fns, _ := f.PerRecord("ns/op")
		fal, _ := f.PerRecord("allocs/op")
		// Compare CPU time when both measured it: a batch runs its records on every
		// core at once, the floor one call at a time, so wall time per record would
		// credit the batch with the parallelism.
		kind := "ns"
		if bc, ok := b.CPUNs(); ok {
			if fc, ok := f.CPUNs(); ok {
				bns, fns, kind = bc, fc, "cpu ns"
			}
		}
		// Own time here is a difference of two figures some 20 times larger, within
		// the run-to-run noise of the SDK's cost on this kind of machine.
		ownNs, ownAl := bns-fns, bal-fal
		add(Row{Figure: label + " " + kind + "/" + unitLabel + " (own = total - SDK floor)", Measured: ns(bns) + " (own " + ns(ownNs) + ")",
			Baseline: ns(fns), Ratio: ratio(bns, fns)})
		add(Row{Figure: label + " allocs/" + unitLabel + " (own = total - SDK floor)", Measured: num(bal) + " (own " + num(ownAl) + ")",
			Baseline: num(fal), Ratio: ratio(bal, fal)})
	}
	own("ingest, in-memory queue,", "IngestMemory", "", "webhook")
	// One ingest invocation as Lambda runs it, measured on the same 2 KB webhook as
	// the row above: the runtime's decode of the API Gateway event and encode of the
	// answer, then the whole invocation on the in-memory queue, each beside ingest's
	// own work on the decoded event, so the table shows where the time goes.
	for _, r := range []struct{ label, bench string }{
		{"ingest, Lambda runtime's decode of the event + encode of the answer,", "IngestRuntimeCodec"},
		{"ingest per invocation (runtime decode + ingest + encode), in-memory queue,", "IngestInvoke"},
	} {
		b, ok := in.Bench[r.bench]
		if !ok {
			missing(r.label+" ns/webhook", "", "Benchmark"+r.bench)
			continue
		}
		t := Row{Figure: r.label + " ns/webhook", Measured: timed(b)}
		if alone, ok := in.Bench["IngestMemory"]; ok {
			v, _ := b.PerRecord("ns/op")
			a, _ := alone.PerRecord("ns/op")
			t.Baseline, t.Ratio = ns(a)+" (ingest alone)", ratio(v, a)
		}
		al, _ := b.PerRecord("allocs/op")
		add(t)
		add(Row{Figure: r.label + " allocs/webhook", Measured: num(al)})
	}
	own("ingest, SQS SDK on loopback,", "IngestSQS", "IngestSQSFloor", "webhook")
	own("processor, in-memory store, batch of 10,", "ProcessRecord", "", "record")
	own("processor duplicate, in-memory store,", "ProcessRecordDuplicate", "", "record")
	own("processor, DynamoDB SDK on loopback,", "ProcessRecordDynamo", "ProcessRecordDynamoFloor", "record")
	own("processor duplicate, DynamoDB SDK on loopback,", "ProcessRecordDynamoDuplicate", "ProcessRecordDynamoDuplicateFloor", "record")

	// Billable requests per webhook, counted on moto.
	if in.Requests == nil {
		missing("billable requests per webhook, happy path", fmt.Sprintf("<= %.1f", happyBillable), "requests.json")
	} else {
		for _, s := range in.Requests.Scenarios {
			p := s.PerWebhook
			r := Row{Figure: "billable requests per webhook, " + s.Name + " (API GW + Lambda + SQS + DDB reads + writes)",
				Measured: fmt.Sprintf("%.2f = %.2f + %.2f + %.2f + %.2f + %.2f", p.Billable, p.APIGateway, p.LambdaInvokes, p.SQS, p.DynamoDBReads, p.DynamoDBWrites)}
			if p.S3Puts+p.S3Gets > 0 {
				r.Figure = "billable requests per webhook, " + s.Name + " (API GW + Lambda + SQS chunks + DDB reads + writes + S3 PUT + GET)"
				r.Measured += fmt.Sprintf(" + %.2f + %.2f", p.S3Puts, p.S3Gets)
			}
			switch s.Name {
			case "happy":
				r.Target, r.Met = fmt.Sprintf("<= %.1f", happyBillable), met(p.Billable <= happyBillable)
				add(r)
				add(Row{Figure: "DynamoDB writes per webhook, happy path", Measured: num2(p.DynamoDBWrites),
					Target: fmt.Sprintf("<= %d", happyDDBWrites), Met: met(p.DynamoDBWrites <= happyDDBWrites)})
				continue
			case "duplicate":
				// The idempotency claim is the only write; reads are the breaker's
				// state, one per container per cache TTL, counted on their own row.
				add(r)
				add(Row{Figure: "DynamoDB idempotency calls per duplicate delivery (the claim)", Measured: num2(p.DynamoDBWrites),
					Target: "= 1", Met: met(math.Abs(p.DynamoDBWrites-1) < 1e-9)})
				continue
			}
			add(r)
		}
		add(Row{Figure: "breaker reads per record, happy path on moto", Measured: fmt.Sprintf("%.4f", in.Requests.BreakerReadsPerRecord),
			Target: fmt.Sprintf("<= %.2f", breakerReads), Met: met(in.Requests.BreakerReadsPerRecord <= breakerReads)})
	}
	if in.DDBCalls != nil {
		h, d := in.DDBCalls["happy_per_record"], in.DDBCalls["duplicate_per_record"]
		add(Row{Figure: fmt.Sprintf("DynamoDB calls per record through the store on moto (%0.f records)", in.DDBCalls["records"]),
			Measured: fmt.Sprintf("happy %.2f, duplicate %.2f", h, d), Target: "<= 2, = 1", Met: met(h <= 2 && math.Abs(d-1) < 1e-9)})
	}
	if b, ok := in.Bench["HappyPathParallel"]; ok {
		if reads, ok := b.Values["reads/op"]; ok {
			add(Row{Figure: "breaker reads per call, closed, all records at full speed (benchmark)", Measured: fmt.Sprintf("%.5f", reads),
				Target: fmt.Sprintf("<= %.2f", breakerReads), Met: met(reads <= breakerReads)})
		}
	}

	// Binaries and start-up.
	if in.Startup == nil {
		missing("bootstrap size, stripped", "<= 10 MiB", "startup.json")
	} else {
		var hello float64
		for _, f := range in.Startup.Functions {
			if f.Name == "hello" {
				hello = f.StartupMedianMs
			}
		}
		for _, f := range in.Startup.Functions {
			r := Row{Figure: "bootstrap " + f.Name + ", linux/arm64 stripped", Measured: fmt.Sprintf("%d B (%.2f MiB)", f.Bytes, float64(f.Bytes)/(1<<20))}
			if f.Name != "hello" {
				r.Target, r.Met = "<= 10 MiB", met(f.Bytes <= binaryBytes)
			}
			add(r)
			s := Row{Figure: fmt.Sprintf("start-up to first Runtime API request, %s (%s, median of %d; p90)", f.Name, in.Startup.GOARCH, in.Startup.Runs),
				Measured: fmt.Sprintf("%.1f ms; %.1f ms", f.StartupMedianMs, f.StartupP90Ms)}
			if f.Name != "hello" {
				s.Baseline, s.Ratio = fmt.Sprintf("%.1f ms (hello)", hello), ratio(f.StartupMedianMs, hello)
				s.Target, s.Met = "no network in init", met(f.NetworkDuringInit == 0)
			}
			add(s)
		}
	}

	// Cost per million 2 KB webhooks.
	if in.Cost == nil {
		missing("cost per million 2 KB webhooks, happy path, HTTP API", fmt.Sprintf("<= $%.2f", costHTTPAPI), "cost.json")
	} else {
		for _, s := range in.Cost.Scenarios {
			size := sizeLabel(s.BodyBytes)
			h := Row{Figure: fmt.Sprintf("cost per million %s webhooks, %s, HTTP API (prices %s)", size, s.Name, in.Cost.PricesAsOf), Measured: usd(s.HTTPAPI)}
			u := Row{Figure: fmt.Sprintf("cost per million %s webhooks, %s, function URL (prices %s)", size, s.Name, in.Cost.PricesAsOf), Measured: usd(s.FunctionURL)}
			if s.Name == "happy" {
				h.Target, h.Met = fmt.Sprintf("<= $%.2f", costHTTPAPI), met(s.HTTPAPI <= costHTTPAPI)
				u.Target, u.Met = fmt.Sprintf("<= $%.2f", costFunctionURL), met(s.FunctionURL <= costFunctionURL)
			}
			add(h)
			add(u)
		}
		// The idle cost, one row per item (cost.txt says how each is priced), then
		// the total against its target.
		for _, it := range in.Cost.IdleItems {
			add(Row{Figure: "idle cost per month, " + it.Name, Measured: usd(it.USD)})
		}
		idle := Row{Figure: fmt.Sprintf("idle cost per month at the template's defaults, no traffic (prices %s)", in.Cost.PricesAsOf), Measured: usd(in.Cost.Fixed)}
		if in.Cost.IdleTarget > 0 {
			idle.Target, idle.Met = fmt.Sprintf("<= $%.2f", in.Cost.IdleTarget), met(in.Cost.Fixed <= in.Cost.IdleTarget)
		}
		add(idle)
	}
	return rows
}

// Missed counts rows whose target is missed.
func Missed(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Met == "NO" {
			n++
		}
	}
	return n
}

// Print writes rows as one aligned table.
func Print(w io.Writer, rows []Row) {
	head := Row{"figure", "measured", "baseline", "ratio", "target", "met"}
	all := append([]Row{head}, rows...)
	width := [6]int{}
	for _, r := range all {
		for i, c := range r.cells() {
			width[i] = max(width[i], len(c))
		}
	}
	for i, r := range all {
		cells := r.cells()
		for j, c := range cells {
			if j == len(cells)-1 {
				fmt.Fprintln(w, c)
				break
			}
			fmt.Fprintf(w, "%-*s  ", width[j], c)
		}
		if i == 0 {
			total := 0
			for _, x := range width {
				total += x + 2
			}
			fmt.Fprintln(w, strings.Repeat("-", total-2))
		}
	}
}

func (r Row) cells() []string {
	c := []string{r.Figure, r.Measured, r.Baseline, r.Ratio, r.Target, r.Met}
	for i := range c {
		if c[i] == "" {
			c[i] = "-"
		}
	}
	return c
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func ns(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f µs", v/1000)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func num(v float64) string  { return fmt.Sprintf("%.1f", v) }
func num2(v float64) string { return fmt.Sprintf("%.2f", v) }
func usd(v float64) string  { return fmt.Sprintf("$%.3f", v) }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// sizeLabel names a body size as the scenarios do: 2048 bytes (or unknown) is
// "2 KB", 100000 "100 KB", 1000000 "1 MB".
func sizeLabel(bytes int) string {
	switch {
	case bytes <= 2048:
		return "2 KB"
	case bytes >= 1_000_000 && bytes%1_000_000 == 0:
		return fmt.Sprintf("%d MB", bytes/1_000_000)
	case bytes%1000 == 0:
		return fmt.Sprintf("%d KB", bytes/1000)
	}
	return fmt.Sprintf("%d-byte", bytes)
}
