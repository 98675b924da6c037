package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/ingest"
)

func testPrices(t *testing.T) PriceTable {
	t.Helper()
	var p PriceTable
	if err := readJSON(filepath.Join("..", "prices.json"), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func happy() Scenario {
	return Scenario{Name: "happy", Webhooks: 100,
		PerWebhook: PerWebhook{APIGateway: 1, LambdaInvokes: 1.1, SQS: 1.2, DynamoDBWrites: 2},
		Lambda:     map[string]int{"ingest": 100, "processor": 10}}
}

var deployment = Deployment{MemoryMB: map[string]float64{"ingest": 256, "processor": 256, "redrive": 256},
	Arch: "arm64", BatchSize: 10, PlatformLogLevel: "WARN", RetentionDays: 7}

// The happy path priced by hand from the same table: each component is the formula
// the README states, with the numbers written out.
func TestHappyPathByHand(t *testing.T) {
	p := testPrices(t)
	a := p.Assumptions
	gb := 256.0 / 1024
	ingestMs, procMs := math.Ceil(a.SQSSendMs), math.Ceil(2*a.DynamoDBWriteMs+a.DestinationMs)
	want := 1*p.Prices["apiGatewayHttpPerMillion"].USD +
		1.1*p.Prices["lambdaRequestsPerMillion"].USD +
		(1*ingestMs+0.1*procMs)/1000*gb*1e6*p.Prices["lambdaArmGBSecond"].USD +
		(1+0.1)*a.ColdStartsPerMillionInvocations/1e6*(12.0/1000)*gb*1e6*p.Prices["lambdaArmGBSecond"].USD +
		1.2*p.Prices["sqsStandardPerMillion"].USD +
		2*1*p.Prices["dynamodbWriteUnitsPerMillion"].USD +
		1e6*(300+a.AvgIdempotencyItemOverheadBytes)/1e9*(7/30.44)*p.Prices["dynamodbStorageGBMonth"].USD
	_, got, err := CostPerMillion(happy(), HTTPAPI, deployment, p, Startup{"ingest": 12, "processor": 12}, 300)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-9 {
		t.Fatalf("happy path via HTTP API: $%.6f, want $%.6f", got, want)
	}
	_, url, err := CostPerMillion(happy(), FunctionURL, deployment, p, Startup{"ingest": 12, "processor": 12}, 300)
	if err != nil {
		t.Fatal(err)
	}
	if d := got - url; math.Abs(d-p.Prices["apiGatewayHttpPerMillion"].USD) > 1e-9 {
		t.Fatalf("function URL saves $%.6f per million, want the HTTP API's price", d)
	}
}

// Item size sets the units: a 1.5 KB record costs two write units per write.
func TestWriteUnitsFollowItemSize(t *testing.T) {
	p := testPrices(t)
	st := Startup{"ingest": 10, "processor": 10}
	small, _, err := CostPerMillion(happy(), HTTPAPI, deployment, p, st, 900)
	if err != nil {
		t.Fatal(err)
	}
	large, _, err := CostPerMillion(happy(), HTTPAPI, deployment, p, st, 1536)
	if err != nil {
		t.Fatal(err)
	}
	ddb := func(lines []Line) float64 {
		for _, l := range lines {
			if l.Name == "DynamoDB requests" {
				return l.USD
			}
		}
		t.Fatal("no DynamoDB line")
		return 0
	}
	if r := ddb(large) / ddb(small); math.Abs(r-2) > 1e-9 {
		t.Fatalf("1.5 KB items cost %.2fx 0.9 KB items, want 2x", r)
	}
}

// Platform lines at INFO are billed as logs; at WARN they are not written.
func TestPlatformLinesCostAtInfo(t *testing.T) {
	p := testPrices(t)
	st := Startup{"ingest": 10, "processor": 10}
	d := deployment
	_, warn, _ := CostPerMillion(happy(), HTTPAPI, d, p, st, 300)
	d.PlatformLogLevel = "INFO"
	_, info, err := CostPerMillion(happy(), HTTPAPI, d, p, st, 300)
	if err != nil {
		t.Fatal(err)
	}
	want := 1.1 * platformLineBytes * 1e6 / 1e9 * (p.Prices["logsIngestionGB"].USD + p.Prices["logsStorageGBMonth"].USD*p.Assumptions.LogRetentionDays/30.44)
	if math.Abs(info-warn-want) > 1e-9 {
		t.Fatalf("INFO adds $%.6f, want $%.6f", info-warn, want)
	}
}

// Bad inputs are errors that say what is missing, not a wrong figure.
func TestBadInputs(t *testing.T) {
	p := testPrices(t)
	st := Startup{"ingest": 10, "processor": 10}
	noPrice := p
	noPrice.Prices = map[string]Price{}
	x86 := deployment
	x86.Arch = "x86_64"
	for name, c := range map[string]struct {
		s  Scenario
		d  Deployment
		p  PriceTable
		st Startup
	}{
		"missing price":   {happy(), deployment, noPrice, st},
		"x86":             {happy(), x86, p, st},
		"no webhooks":     {Scenario{Name: "empty"}, deployment, p, st},
		"no startup time": {happy(), deployment, p, Startup{"ingest": 10}},
	} {
		if _, _, err := CostPerMillion(c.s, HTTPAPI, c.d, c.p, c.st, 300); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The repository's template is read as deployed: arm64, 256 MB, batches of 10,
// platform logs at WARN.
func TestReadsTheTemplate(t *testing.T) {
	d, err := ReadDeployment(filepath.Join("..", "..", "..", "template.yaml"), 7)
	if err != nil {
		t.Fatal(err)
	}
	if d.Arch != "arm64" || d.BatchSize != 10 || d.PlatformLogLevel != "WARN" {
		t.Fatalf("deployment %+v", d)
	}
	for _, fn := range []string{"ingest", "processor", "redrive"} {
		if d.MemoryMB[fn] != 256 {
			t.Fatalf("%s memory %v MB, want 256", fn, d.MemoryMB[fn])
		}
	}
	if _, err := ReadDeployment(filepath.Join("..", "prices.json"), 7); err == nil || !strings.Contains(err.Error(), "Resources") && !strings.Contains(err.Error(), "has no") {
		t.Fatalf("a file that is not a template: %v", err)
	}
}

// The idle cost priced by hand: the mapping's empty polls and the alarm metrics;
// the parameter, no dashboard and metrics without data cost nothing. Every item is
// listed, at $0 when it costs nothing.
func TestIdleByHand(t *testing.T) {
	p := testPrices(t)
	idle := Idle{Alarms: []Alarm{{"A", 1}, {"B", 2}}, SourcesStore: "parameter", MetricsDetail: "outcome"}
	items, total, options, err := IdleMonthly(p, idle)
	if err != nil {
		t.Fatal(err)
	}
	polls := 5.0 * 3 * 60 * 730 // 5 pollers, a 20 s poll each, 730 h
	want := polls/1e6*p.Prices["sqsStandardPerMillion"].USD + 3*p.Prices["alarmMonth"].USD
	if math.Abs(total-want) > 1e-9 {
		t.Fatalf("idle $%.6f, want $%.6f", total, want)
	}
	var names []string
	for _, l := range items {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "idle queue polls,alarms,dashboard,sources,custom metrics,other resources" {
		t.Fatalf("items %v", names)
	}
	if len(options) == 0 {
		t.Fatal("no opt-ins listed")
	}
	// Opting in to the dashboard and the secret adds their prices.
	idle.Dashboards, idle.Secrets, idle.SourcesStore = []string{"Dashboard"}, []string{"SourcesSecret"}, "secret"
	_, more, _, err := IdleMonthly(p, idle)
	if err != nil {
		t.Fatal(err)
	}
	if d := more - total; math.Abs(d-p.Prices["dashboardMonth"].USD-p.Prices["secretMonth"].USD) > 1e-9 {
		t.Fatalf("dashboard and secret add $%.6f", d)
	}
	idle.SourcesStore = "vault"
	if _, _, _, err := IdleMonthly(p, idle); err == nil {
		t.Fatal("unknown sources store: no error")
	}
}

// The repository's template at its defaults: three alarms reading four metrics, no
// dashboard, no secret, sources in the parameter, metrics by outcome, within the
// target. With the opt-ins turned on by default it misses it.
func TestReadIdleTemplate(t *testing.T) {
	path := filepath.Join("..", "..", "..", "template.yaml")
	idle, err := ReadIdle(path)
	if err != nil {
		t.Fatal(err)
	}
	metrics := 0
	for _, a := range idle.Alarms {
		metrics += a.Metrics
	}
	if len(idle.Alarms) < 3 || metrics < 4 || len(idle.Dashboards) != 0 || len(idle.Secrets) != 0 ||
		idle.SourcesStore != "parameter" || idle.MetricsDetail != "outcome" || idle.Routes != 0 {
		t.Fatalf("idle items %+v", idle)
	}
	_, total, _, err := IdleMonthly(testPrices(t), idle)
	if err != nil {
		t.Fatal(err)
	}
	if total > IdleTarget {
		t.Fatalf("the template's idle cost $%.3f is above $%.2f", total, IdleTarget)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	on := strings.Replace(string(raw), "  CreateDashboard:\n    Type: String\n    Default: \"false\"", "  CreateDashboard:\n    Type: String\n    Default: \"true\"", 1)
	on = strings.Replace(on, "  SourcesStore:\n    Type: String\n    Default: parameter", "  SourcesStore:\n    Type: String\n    Default: secret", 1)
	if on == string(raw) {
		t.Fatal("the template's CreateDashboard and SourcesStore defaults were not found")
	}
	variant := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(variant, []byte(on), 0o644); err != nil {
		t.Fatal(err)
	}
	idle, err = ReadIdle(variant)
	if err != nil {
		t.Fatal(err)
	}
	if len(idle.Dashboards) != 1 || len(idle.Secrets) != 1 || idle.SourcesStore != "secret" {
		t.Fatalf("with the opt-ins on: %+v", idle)
	}
	if _, total, _, _ := IdleMonthly(testPrices(t), idle); total <= IdleTarget {
		t.Fatalf("with a dashboard and a secret the idle cost is $%.3f", total)
	}
}

// The HTTP API counts a request once per 512 KB begun.
func TestAPIRequests(t *testing.T) {
	for size, want := range map[int]float64{0: 1, 2048: 1, 100_000: 1, 512 << 10: 1, 512<<10 + 1: 2, 1_000_000: 2, 1 << 20: 2, 6 << 20: 12} {
		if got := APIRequests(size); got != want {
			t.Errorf("APIRequests(%d) = %v, want %v", size, got, want)
		}
	}
}

// A 1 MB webhook through the claim check, priced by hand: the HTTP API bills it as
// two requests (a function URL has no such item), S3 a PUT and a GET, and ingest
// and the processor wait for their S3 requests.
func TestClaimCheckByHand(t *testing.T) {
	p := testPrices(t)
	a := p.Assumptions
	st := Startup{"ingest": 12, "processor": 12}
	stored := happy()
	stored.Name, stored.BodyBytes = "happy 1 MB", 1_000_000
	stored.PerWebhook.S3Puts, stored.PerWebhook.S3Gets = 1, 1
	lines, got, err := CostPerMillion(stored, HTTPAPI, deployment, p, st, 300)
	if err != nil {
		t.Fatal(err)
	}
	_, base, err := CostPerMillion(happy(), HTTPAPI, deployment, p, st, 300)
	if err != nil {
		t.Fatal(err)
	}
	gb := 256.0 / 1024
	s3 := (p.Prices["s3PutPerThousand"].USD + p.Prices["s3GetPerThousand"].USD) * 1000
	if want := 5.4; math.Abs(s3-want) > 1e-9 {
		t.Fatalf("a PUT and a GET cost $%.6f per million, want $%.2f", s3, want)
	}
	duration := (1*math.Ceil(a.S3RequestMs) + 0.1*math.Ceil(2*a.S3RequestMs)) / 1000 * gb * 1e6 * p.Prices["lambdaArmGBSecond"].USD
	want := base + p.Prices["apiGatewayHttpPerMillion"].USD + s3 + duration
	if math.Abs(got-want) > 1e-9 {
		t.Fatalf("1 MB via HTTP API: $%.6f, want $%.6f (lines %+v)", got, want, lines)
	}
	_, url, err := CostPerMillion(stored, FunctionURL, deployment, p, st, 300)
	if err != nil {
		t.Fatal(err)
	}
	if d := got - url; math.Abs(d-2*p.Prices["apiGatewayHttpPerMillion"].USD) > 1e-9 {
		t.Fatalf("function URL saves $%.6f per million 1 MB webhooks, want two HTTP API requests", d)
	}
}

// The inline limit is the whole chunks below the break-even: 7.75 chunks at these
// prices, so 7 x 64 KiB.
func TestBreakEvenIsTheInlineLimit(t *testing.T) {
	p := testPrices(t)
	even, err := BreakEven(p)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(even-7.75) > 1e-9 {
		t.Fatalf("break-even %.4f chunks, want 7.75", even)
	}
	if got := int(math.Floor(even)) * 64 << 10; got != ingest.DefaultInlineMaxBytes {
		t.Fatalf("whole chunks below the break-even: %d bytes; ingest's inline limit is %d", got, ingest.DefaultInlineMaxBytes)
	}
	noS3 := p
	noS3.Prices = map[string]Price{"sqsStandardPerMillion": p.Prices["sqsStandardPerMillion"]}
	if _, err := BreakEven(noS3); err == nil {
		t.Fatal("no S3 prices: no error")
	}
}
