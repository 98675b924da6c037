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
	S3RequestMs                     float64 `json:"s3RequestMs"`
	ColdStartsPerMillionInvocations float64 `json:"coldStartsPerMillionInvocations"`
	LogRetentionDays                float64 `json:"logRetentionDays"`
	AvgIdempotencyItemOverheadBytes float64 `json:"avgIdempotencyItemOverheadBytes"`
	IdleESMPollers                  float64 `json:"idleEsmPollers"`
	IdleESMWaitSeconds              float64 `json:"idleEsmWaitSeconds"`
	HoursPerMonth                   float64 `json:"hoursPerMonth"`
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
	BodyBytes   int            `json:"bodyBytes"` // size of each webhook's body
	PerWebhook  PerWebhook     `json:"perWebhook"`
	Lambda      map[string]int `json:"lambda"`
	Operations  map[string]int `json:"operations"`
}

// PerWebhook is billable requests (and logged bytes) per webhook. SQS is in 64 KB
// chunks, as SQS bills; APIGateway is requests of any size.
type PerWebhook struct {
	APIGateway     float64 `json:"apiGateway"`
	LambdaInvokes  float64 `json:"lambdaInvokes"`
	SQS            float64 `json:"sqs"`
	DynamoDBReads  float64 `json:"dynamodbReads"`
	DynamoDBWrites float64 `json:"dynamodbWrites"`
	S3Puts         float64 `json:"s3Puts"`
	S3Gets         float64 `json:"s3Gets"`
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

// apiIncrementBytes is the size the HTTP API meters requests in: a request counts
// once per 512 KB begun.
const apiIncrementBytes = 512 << 10

// APIRequests is how many requests the HTTP API bills one request with a body of
// bodyBytes bytes as: one per 512 KB begun, at least one. A function URL has no
// such item.
func APIRequests(bodyBytes int) float64 {
	return math.Max(1, math.Ceil(float64(bodyBytes)/apiIncrementBytes))
}

// platformLineBytes is the size of the START and REPORT lines Lambda writes per
// invocation at system log level INFO (JSON format).
const platformLineBytes = 420

// CostPerMillion prices a million webhooks of scenario s through door.
func CostPerMillion(s Scenario, door FrontDoor, d Deployment, t PriceTable, start Startup, itemBytes int) ([]Line, float64, error) {
	names := []string{"apiGatewayHttpPerMillion", "functionUrlPerMillion", "lambdaRequestsPerMillion", "lambdaArmGBSecond",
		"sqsStandardPerMillion", "s3PutPerThousand", "s3GetPerThousand", "dynamodbWriteUnitsPerMillion", "dynamodbReadUnitsPerMillion", "dynamodbStorageGBMonth",
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
		units := APIRequests(s.BodyBytes)
		add("front door", pw.APIGateway*units*p["apiGatewayHttpPerMillion"], "%.2f HTTP API requests x %.0f (512 KB increments of a %d-byte body) x $%.2f/M",
			pw.APIGateway, units, s.BodyBytes, p["apiGatewayHttpPerMillion"])
	case FunctionURL:
		add("front door", pw.APIGateway*p["functionUrlPerMillion"], "%.2f function URL requests x $%.2f/M", pw.APIGateway, p["functionUrlPerMillion"])
	default:
		return nil, 0, fmt.Errorf("unknown front door %q", door)
	}
	add("Lambda requests", pw.LambdaInvokes*p["lambdaRequestsPerMillion"], "%.2f invocations x $%.2f/M", pw.LambdaInvokes, p["lambdaRequestsPerMillion"])

	// Billed milliseconds per invocation (rounded up to 1 ms): ingest waits for one
	// SendMessage, and a PUT per stored body; a processor batch runs its records at
	// once, each a claim, the destination and a completion, and a GET and a DELETE
	// when a body is stored; a redrive batch of 10 is one receive, send and delete.
	ingestMs, procMs := a.SQSSendMs, 2*a.DynamoDBWriteMs+a.DestinationMs
	if inv := perWebhook("ingest"); inv > 0 {
		ingestMs += pw.S3Puts / inv * a.S3RequestMs
	}
	if pw.S3Gets > 0 {
		procMs += 2 * a.S3RequestMs
	}
	ms := map[string]float64{
		"ingest":    math.Ceil(ingestMs),
		"processor": math.Ceil(procMs),
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
	add("SQS", pw.SQS*p["sqsStandardPerMillion"], "%.2f requests (64 KB chunks) x $%.2f/M", pw.SQS, p["sqsStandardPerMillion"])
	add("S3 requests", (pw.S3Puts*p["s3PutPerThousand"]+pw.S3Gets*p["s3GetPerThousand"])*1000,
		"%.2f PUT x $%.4f/K + %.2f GET x $%.4f/K (DELETE free; bodies kept seconds: storage negligible)",
		pw.S3Puts, p["s3PutPerThousand"], pw.S3Gets, p["s3GetPerThousand"])

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

// BreakEven is the message size, in 64 KB chunks, above which the claim check costs
// less than sending the body inline: inline, a message of n chunks costs 2n SQS
// requests (its send and its receive; the delete is batched and small); stored,
// it costs a PUT, a GET and two single-chunk SQS requests. 2n x sqs = put + get +
// 2 x sqs.
func BreakEven(t PriceTable) (float64, error) {
	sqs, err := t.price("sqsStandardPerMillion")
	if err != nil {
		return 0, err
	}
	put, err := t.price("s3PutPerThousand")
	if err != nil {
		return 0, err
	}
	get, err := t.price("s3GetPerThousand")
	if err != nil {
		return 0, err
	}
	if sqs <= 0 {
		return 0, fmt.Errorf("price table %s: SQS requests cost nothing", t.AsOf)
	}
	perRequest := sqs / 1e6
	return (put/1000 + get/1000 + 2*perRequest) / (2 * perRequest), nil
}

// IdleTarget is the most a deployed stack may cost per month with no traffic, at
// the template's defaults, in US dollars.
const IdleTarget = 1.00

// outcomeMetrics is the number of outcome counters the processor emits
// (processor.Outcome: processed, duplicate, unrouted, deferred, retried,
// deadLettered, failed); breakerStates the states a breaker transition can reach.
const (
	outcomeMetrics = 7
	breakerStates  = 3
)

// IdleMonthly is what a stack deployed at the template's defaults costs per month
// with no traffic, item by item: every item that can cost anything fixed is listed,
// at $0 when it costs nothing idle, with why. Options lists what each opt-in and
// what traffic add per month.
func IdleMonthly(t PriceTable, idle Idle) (items []Line, total float64, options []Line, err error) {
	p := map[string]float64{}
	for _, n := range []string{"sqsStandardPerMillion", "alarmMonth", "dashboardMonth", "secretMonth", "ssmStandardParameterMonth", "customMetricMonth"} {
		if p[n], err = t.price(n); err != nil {
			return nil, 0, nil, err
		}
	}
	a := t.Assumptions
	if a.IdleESMPollers <= 0 || a.IdleESMWaitSeconds <= 0 || a.HoursPerMonth <= 0 {
		return nil, 0, nil, fmt.Errorf("price table %s: idleEsmPollers, idleEsmWaitSeconds and hoursPerMonth must be positive", t.AsOf)
	}
	add := func(name string, usd float64, how string, args ...any) {
		items = append(items, Line{Name: name, USD: usd, How: fmt.Sprintf(how, args...)})
	}
	polls := a.IdleESMPollers * 3600 / a.IdleESMWaitSeconds * a.HoursPerMonth
	add("idle queue polls", polls/1e6*p["sqsStandardPerMillion"], "%.0f ReceiveMessage x $%.2f/M: %g pollers, one %g s long poll each, %g h",
		polls, p["sqsStandardPerMillion"], a.IdleESMPollers, a.IdleESMWaitSeconds, a.HoursPerMonth)

	alarmMetrics, names := 0, []string{}
	for _, al := range idle.Alarms {
		alarmMetrics += al.Metrics
		names = append(names, fmt.Sprintf("%s %d", al.Name, al.Metrics))
	}
	add("alarms", float64(alarmMetrics)*p["alarmMonth"], "%d alarm metrics x $%.2f (%s)", alarmMetrics, p["alarmMonth"], join(names))
	add("dashboard", float64(len(idle.Dashboards))*p["dashboardMonth"], "%d x $%.2f (CreateDashboard=true adds one; the account's three free ones are not counted)",
		len(idle.Dashboards), p["dashboardMonth"])
	switch idle.SourcesStore {
	case "parameter":
		add("sources", p["ssmStandardParameterMonth"]+float64(len(idle.Secrets))*p["secretMonth"],
			"SSM standard SecureString parameter $%.2f + %d secrets x $%.2f (SourcesStore=%s)", p["ssmStandardParameterMonth"], len(idle.Secrets), p["secretMonth"], idle.SourcesStore)
	case "secret":
		add("sources", float64(len(idle.Secrets))*p["secretMonth"], "%d secrets x $%.2f (SourcesStore=%s)", len(idle.Secrets), p["secretMonth"], idle.SourcesStore)
	default:
		return nil, 0, nil, fmt.Errorf("SourcesStore default %q is neither parameter nor secret", idle.SourcesStore)
	}
	perMetric := p["customMetricMonth"]
	// At detail source or type, more metrics can exist, per source the operator
	// adds; the totals exist at every detail.
	add("custom metrics", 0, "none receives data with no traffic, and CloudWatch bills a metric only for hours it receives data; can exist: %d outcome totals (MetricsDetail=%s) + %d routes x %d breaker transitions",
		outcomeMetrics, idle.MetricsDetail, idle.Routes, breakerStates)
	add("other resources", 0, "on-demand tables, body bucket, log groups, SNS topic, HTTP API, functions: billed per request or per byte kept, and idle keeps nothing past its expiry")
	for _, l := range items {
		total += l.USD
	}

	opt := func(name string, usd float64, how string, args ...any) {
		options = append(options, Line{Name: name, USD: usd, How: fmt.Sprintf(how, args...)})
	}
	opt("with traffic", outcomeMetrics*perMetric, "at most: %d outcome totals x $%.2f, each billed for the hours it receives data (steady healthy traffic feeds one or two: $%.2f-$%.2f)",
		outcomeMetrics, perMetric, perMetric, 2*perMetric)
	opt("MetricsDetail=source", outcomeMetrics*perMetric, "at most, per source: %d outcomes x $%.2f", outcomeMetrics, perMetric)
	opt("MetricsDetail=type", outcomeMetrics*perMetric, "at most, per source and per (source, type) pair: %d outcomes x $%.2f each", outcomeMetrics, perMetric)
	opt("breaker transitions", breakerStates*perMetric, "at most, per route destination: %d states x $%.2f, billed only for hours with a transition", breakerStates, perMetric)
	opt("CreateDashboard=true", p["dashboardMonth"], "one dashboard ($0 while the account has fewer than three)")
	opt("SourcesStore=secret", p["secretMonth"]-p["ssmStandardParameterMonth"], "a Secrets Manager secret instead of the parameter")
	return items, total, options, nil
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
