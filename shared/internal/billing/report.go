package billing

import (
	"fmt"
	"strings"
)

// Functions, as named in Usage.Invocations and Scenario.Lambda.
const (
	FnIngest    = "ingest"
	FnProcessor = "processor"
	FnRedrive   = "redrive"
)

// Usage is what some webhooks cost, in billed units, counted while they went
// through the pipeline.
type Usage struct {
	// APIGateway is the number of HTTP API requests: each webhook a sender posts to
	// ingest is one.
	APIGateway int
	// Invocations are Lambda invocations by function (FnIngest, FnProcessor,
	// FnRedrive).
	Invocations map[string]int
	// Requests are the AWS SDK requests the functions and the event source mapping
	// made (a Counter's).
	Requests Counts
	// LogBytes is what the functions wrote to their logs (CloudWatch Logs bills
	// ingestion by the byte).
	LogBytes int
}

// PerWebhook is billable requests, and bytes logged, per webhook. Billable is
// APIGateway + LambdaInvokes + SQS + DynamoDBReads + DynamoDBWrites.
type PerWebhook struct {
	APIGateway     float64 `json:"apiGateway"`
	LambdaInvokes  float64 `json:"lambdaInvokes"`
	SQS            float64 `json:"sqs"`
	DynamoDBReads  float64 `json:"dynamodbReads"`
	DynamoDBWrites float64 `json:"dynamodbWrites"`
	Billable       float64 `json:"billable"`
	LogBytes       float64 `json:"logBytes"`
}

// PerWebhook divides u among webhooks webhooks (at least 1).
func (u Usage) PerWebhook(webhooks int) PerWebhook {
	n := float64(max(webhooks, 1))
	invokes := 0
	for _, v := range u.Invocations {
		invokes += v
	}
	p := PerWebhook{
		APIGateway:     float64(u.APIGateway) / n,
		LambdaInvokes:  float64(invokes) / n,
		SQS:            float64(u.Requests.Of(SQSRequest)) / n,
		DynamoDBReads:  float64(u.Requests.Of(DynamoDBRead)) / n,
		DynamoDBWrites: float64(u.Requests.Of(DynamoDBWrite)) / n,
		LogBytes:       float64(u.LogBytes) / n,
	}
	p.Billable = float64(u.APIGateway+invokes+u.Requests.Of(SQSRequest)+u.Requests.Of(DynamoDBRead)+u.Requests.Of(DynamoDBWrite)) / n
	return p
}

// Scenario is one traffic pattern's cost.
type Scenario struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Webhooks    int        `json:"webhooks"`
	PerWebhook  PerWebhook `json:"perWebhook"`
	// Lambda are the invocations by function; every function is listed, 0 included.
	Lambda map[string]int `json:"lambda"`
	// Operations are the AWS SDK requests by "Service.Operation".
	Operations map[string]int `json:"operations"`
}

// NewScenario is the scenario of webhooks webhooks that used u.
func NewScenario(name, description string, webhooks int, u Usage) Scenario {
	lambda := map[string]int{FnIngest: 0, FnProcessor: 0, FnRedrive: 0}
	for fn, v := range u.Invocations {
		lambda[fn] += v
	}
	return Scenario{Name: name, Description: description, Webhooks: webhooks, PerWebhook: u.PerWebhook(webhooks),
		Lambda: lambda, Operations: u.Requests.Names()}
}

// Report is requests.json: what the billing test measured, scenario by scenario.
type Report struct {
	Webhooks  int `json:"webhooks"`  // webhooks per burst scenario
	BatchSize int `json:"batchSize"` // records per processor invocation at most
	// BreakerReadsPerRecord is the breaker store reads per record processed on the
	// happy path.
	BreakerReadsPerRecord float64 `json:"breakerReadsPerRecord"`
	// MaxIdempotencyItemBytes is the largest idempotency record seen (ItemSize).
	MaxIdempotencyItemBytes int        `json:"maxIdempotencyItemBytes"`
	Scenarios               []Scenario `json:"scenarios"`
}

// Table is the report as aligned text: one row per scenario with its figures per
// webhook, then its invocations and operations.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %5s %7s %7s %6s %7s %7s %8s %8s\n",
		"scenario", "n", "apiGw", "invokes", "sqs", "ddbRead", "ddbWrit", "billable", "logBytes")
	for _, s := range r.Scenarios {
		p := s.PerWebhook
		fmt.Fprintf(&b, "%-16s %5d %7.2f %7.2f %6.2f %7.3f %7.2f %8.2f %8.1f\n",
			s.Name, s.Webhooks, p.APIGateway, p.LambdaInvokes, p.SQS, p.DynamoDBReads, p.DynamoDBWrites, p.Billable, p.LogBytes)
	}
	for _, s := range r.Scenarios {
		ops := Counts{}
		for name, v := range s.Operations {
			svc, op, _ := strings.Cut(name, ".")
			ops[Op{Service: svc, Operation: op}] += v
		}
		fmt.Fprintf(&b, "  %s: lambda ingest=%d processor=%d redrive=%d; %s\n",
			s.Name, s.Lambda[FnIngest], s.Lambda[FnProcessor], s.Lambda[FnRedrive], ops)
	}
	fmt.Fprintf(&b, "batches of %d; breaker reads per record (happy) %.3f; largest idempotency item %d bytes\n",
		r.BatchSize, r.BreakerReadsPerRecord, r.MaxIdempotencyItemBytes)
	return b.String()
}
