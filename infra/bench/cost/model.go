package main

import (
	"fmt"
	"math"
	"sort"
)

// Price is one line of the price table: US dollars per unit.
type Price struct {
	USD    float64 `json:"usd"`
	Unit   string  `json:"unit"`
	Source string  `json:"source"`
}

// PriceTable is infra/bench/prices.json: dated list prices and the assumptions a
// run on loopback cannot measure.
type PriceTable struct {
	AsOf        string           `json:"asOf"`
	Region      string           `json:"region"`
	Prices      map[string]Price `json:"prices"`
	Assumptions Assumptions      `json:"assumptions"`
}

// Assumptions are in-region latencies and operating figures, in the units their
// names give.
type Assumptions struct {
	SQSSendMs                       float64 `json:"sqsSendMs"`
	DynamoDBWriteMs                 float64 `json:"dynamodbWriteMs"`
	DestinationMs                   float64 `json:"destinationMs"`
	RedriveBatchMs                  float64 `json:"redriveBatchMs"`
	ColdStartsPerMillionInvocations float64 `json:"coldStartsPerMillionInvocations"`
	LogRetentionDays                float64 `json:"logRetentionDays"`
	AvgIdempotencyItemOverheadBytes float64 `json:"avgIdempotencyItemOverheadBytes"`
	IdleESMReceivesPerMonth         float64 `json:"idleEsmReceivesPerMonth"`
	CustomMetrics                   float64 `json:"customMetrics"`
}

// price returns the named price or an error naming what is missing.
func (t PriceTable) price(name string) (float64, error) {
	p, ok := t.Prices[name]
	if !ok {
		return 0, fmt.Errorf("price table %s has no %q", t.AsOf, name)
	}
	return p.USD, nil
}

// Requests is what the billing test on moto measured (requests.json).
type Requests struct {
	Webhooks                int        `json:"webhooks"`
	BatchSize               int        `json:"batchSize"`
	BreakerReadsPerRecord   float64    `json:"breakerReadsPerRecord"`
	MaxIdempotencyItemBytes int        `json:"maxIdempotencyItemBytes"`
	Scenarios               []Scenario `json:"scenarios"`
}

// Scenario is the requests of one scenario, per webhook.
type Scenario struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Webhooks    int            `json:"webhooks"`
	PerWebhook  PerWebhook     `json:"perWebhook"`
	Lambda      map[string]int `json:"lambda"`
	Operations  map[string]int `json:"operations"`
}

// PerWebhook is billable requests (and logged bytes) per webhook.
type PerWebhook struct {
	APIGateway     float64 `json:"apiGateway"`
	LambdaInvokes  float64 `json:"lambdaInvokes"`
	SQS            float64 `json:"sqs"`
	DynamoDBReads  float64 `json:"dynamodbReads"`
	DynamoDBWrites float64 `json:"dynamodbWrites"`
	Billable       float64 `json:"billable"`
	LogBytes       float64 `json:"logBytes"`
}

// Deployment is what the template sets that the bill depends on.
type Deployment struct {
	MemoryMB         map[string]float64 // by function: ingest, processor, redrive
	Arch             string             // arm64
	BatchSize        int
	PlatformLogLevel string // WARN drops the START and REPORT lines
	RetentionDays    float64
}

// Startup is the measured process start-up of each function, in milliseconds.
type Startup map[string]float64

// FrontDoor is how webhooks reach ingest.
type FrontDoor string

const (
	HTTPAPI     FrontDoor = "HTTP API"
	FunctionURL FrontDoor = "function URL"
)

// Line is one component of the cost of a million webhooks.
type Line struct {
	Name string
	USD  float64
	How  string
}

// platformLineBytes is the size of the START and REPORT lines Lambda writes per
// invocation at system log level INFO (JSON format).
const platformLineBytes = 420

// CostPerMillion prices a million webhooks of scenario s through door.
func CostPerMillion(s Scenario, door FrontDoor, d Deployment, t PriceTable, start Startup, itemBytes int) ([]Line, float64, error) {
	names := []string{"apiGatewayHttpPerMillion", "functionUrlPerMillion", "lambdaRequestsPerMillion", "lambdaArmGBSecond",
		"sqsStandardPerMillion", "dynamodbWriteUnitsPerMillion", "dynamodbReadUnitsPerMillion", "dynamodbStorageGBMonth",
		"logsIngestionGB", "logsStorageGBMonth"}
	p := map[string]float64{}
	for _, n := range names {
		v, err := t.price(n)
		if err != nil {
			return nil, 0, err
		}
		p[n] = v
	}
	if d.Arch != "arm64" {
		return nil, 0, fmt.Errorf("the price table has arm64 duration prices; the template builds %q", d.Arch)
	}
	if s.Webhooks <= 0 {
		return nil, 0, fmt.Errorf("scenario %s has no webhooks", s.Name)
	}
	a := t.Assumptions
	const million = 1e6
	pw := s.PerWebhook
	perWebhook := func(fn string) float64 { return float64(s.Lambda[fn]) / float64(s.Webhooks) }
	var lines []Line
	add := func(name string, usd float64, how string, args ...any) {
		lines = append(lines, Line{Name: name, USD: usd, How: fmt.Sprintf(how, args...)})
	}
	switch door {
	case HTTPAPI:
		add("front door", pw.APIGateway*p["apiGatewayHttpPerMillion"], "%.2f HTTP API requests x $%.2f/M", pw.APIGateway, p["apiGatewayHttpPerMillion"])
	case FunctionURL:
		add("front door", pw.APIGateway*p["functionUrlPerMillion"], "%.2f function URL requests x $%.2f/M", pw.APIGateway, p["functionUrlPerMillion"])
	default:
		return nil, 0, fmt.Errorf("unknown front door %q", door)
	}
	add("Lambda requests", pw.LambdaInvokes*p["lambdaRequestsPerMillion"], "%.2f invocations x $%.2f/M", pw.LambdaInvokes, p["lambdaRequestsPerMillion"])

	// Billed milliseconds per invocation (rounded up to 1 ms): ingest waits for one
	// SendMessage; a processor batch runs its records at once, each a claim, the
	// destination and a completion; a redrive batch of 10 is one receive, send and
	// delete.
	ms := map[string]float64{
		"ingest":    math.Ceil(a.SQSSendMs),
		"processor": math.Ceil(2*a.DynamoDBWriteMs + a.DestinationMs),
		"redrive":   math.Ceil(a.RedriveBatchMs),
	}
	var gbs, initGBs float64
	var parts []string
	for _, fn := range []string{"ingest", "processor", "redrive"} {
		inv := perWebhook(fn)
		if inv == 0 {
			continue
		}
		mem, ok := d.MemoryMB[fn]
		if !ok {
			return nil, 0, fmt.Errorf("no memory size for %s in the template", fn)
		}
		gbs += inv * ms[fn] / 1000 * mem / 1024
		parts = append(parts, fmt.Sprintf("%s %.2f x %.0f ms x %.0f MB", fn, inv, ms[fn], mem))
		initMs, ok := start[fn]
		if !ok {
			return nil, 0, fmt.Errorf("no start-up time measured for %s", fn)
		}
		initGBs += inv * a.ColdStartsPerMillionInvocations / million * math.Ceil(initMs) / 1000 * mem / 1024
	}
	add("Lambda duration", gbs*million*p["lambdaArmGBSecond"], "%s (arm64)", join(parts))
	add("Lambda init", initGBs*million*p["lambdaArmGBSecond"], "%.0f cold starts per million invocations x measured start-up", a.ColdStartsPerMillionInvocations)
	add("SQS", pw.SQS*p["sqsStandardPerMillion"], "%.2f requests x $%.2f/M", pw.SQS, p["sqsStandardPerMillion"])

	wru := math.Max(1, math.Ceil(float64(itemBytes)/1024))
	rru := math.Max(1, math.Ceil(float64(itemBytes)/4096))
	add("DynamoDB requests", pw.DynamoDBWrites*wru*p["dynamodbWriteUnitsPerMillion"]+pw.DynamoDBReads*rru*p["dynamodbReadUnitsPerMillion"],
		"%.2f writes x %.0f WRU x $%.3f/M + %.3f reads x %.0f RRU x $%.3f/M", pw.DynamoDBWrites, wru, p["dynamodbWriteUnitsPerMillion"],
		pw.DynamoDBReads, rru, p["dynamodbReadUnitsPerMillion"])
	storedGB := million * (float64(itemBytes) + a.AvgIdempotencyItemOverheadBytes) / 1e9
	months := d.RetentionDays / 30.44
	add("DynamoDB storage", storedGB*months*p["dynamodbStorageGBMonth"], "%.3f GB kept %.0f days", storedGB, d.RetentionDays)

	logBytes := pw.LogBytes
	if d.PlatformLogLevel != "WARN" {
		logBytes += pw.LambdaInvokes * platformLineBytes
	}
	logGB := million * logBytes / 1e9
	add("CloudWatch Logs", logGB*(p["logsIngestionGB"]+p["logsStorageGBMonth"]*a.LogRetentionDays/30.44),
		"%.0f bytes per webhook (platform lines: %s)", logBytes, d.PlatformLogLevel)

	total := 0.0
	for _, l := range lines {
		total += l.USD
	}
	return lines, total, nil
}

// FixedMonthly is what a deployed stack costs per month with no traffic.
func FixedMonthly(t PriceTable) ([]Line, float64, error) {
	var lines []Line
	for _, c := range []struct {
		name, price string
		qty         float64
		how         string
	}{
		{"idle queue polling", "sqsStandardPerMillion", t.Assumptions.IdleESMReceivesPerMonth / 1e6, "the event source mapping's long polls"},
		{"sources secret", "secretMonth", 1, "one secret"},
		{"alarms", "alarmMonth", 2, "DLQ depth and oldest message"},
		{"dashboard", "dashboardMonth", 1, "beyond the account's three free ones"},
		{"custom metrics", "customMetricMonth", t.Assumptions.CustomMetrics, "EMF metrics: each metric name x dimension values counts as one"},
	} {
		v, err := t.price(c.price)
		if err != nil {
			return nil, 0, err
		}
		lines = append(lines, Line{Name: c.name, USD: v * c.qty, How: fmt.Sprintf("%g x $%g (%s)", c.qty, v, c.how)})
	}
	total := 0.0
	for _, l := range lines {
		total += l.USD
	}
	return lines, total, nil
}

func join(parts []string) string {
	sort.Strings(parts)
	out := ""
	for i, s := range parts {
		if i > 0 {
			out += " + "
		}
		out += s
	}
	return out
}
