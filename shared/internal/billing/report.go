package billing

import (
	"fmt"
	"maps"
	"slices"
	"sort"
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
	// SQSChunks are the SQS requests in 64 KB chunks, by operation (a Counter's
	// Chunks): what SQS bills. An SQS operation missing from it is one chunk per
	// request.
	SQSChunks Counts
	// LogBytes is what the functions wrote to their logs (CloudWatch Logs bills
	// ingestion by the byte).
	LogBytes int
}

// PerWebhook is billable requests, and bytes logged, per webhook. Billable is
// APIGateway + LambdaInvokes + SQS + DynamoDBReads + DynamoDBWrites + S3Puts +
// S3Gets. SQS is in 64 KB chunks, as SQS bills; SQSCalls are the API calls behind
// them (equal when every payload is under 64 KB). APIGateway is requests, whatever
// their size (the HTTP API meters them in 512 KB increments: the cost model
// applies them).
type PerWebhook struct {
	APIGateway     float64 `json:"apiGateway"`
	LambdaInvokes  float64 `json:"lambdaInvokes"`
	SQS            float64 `json:"sqs"`
	SQSCalls       float64 `json:"sqsCalls"`
	DynamoDBReads  float64 `json:"dynamodbReads"`
	DynamoDBWrites float64 `json:"dynamodbWrites"`
	S3Puts         float64 `json:"s3Puts"`
	S3Gets         float64 `json:"s3Gets"`
	Billable       float64 `json:"billable"`
	LogBytes       float64 `json:"logBytes"`
}

// sqsChunks is the SQS requests in chunks: SQSChunks where it has the operation,
// one per request where not.
func (u Usage) sqsChunks() int {
	n := 0
	for op, v := range u.Requests {
		if Classify(op) != SQSRequest {
			continue
		}
		if c, ok := u.SQSChunks[op]; ok {
			v = c
		}
		n += v
	}
	return n
}

// PerWebhook divides u among webhooks webhooks (at least 1).
func (u Usage) PerWebhook(webhooks int) PerWebhook {
	n := float64(max(webhooks, 1))
	invokes := 0
	for _, v := range u.Invocations {
		invokes += v
	}
	chunks := u.sqsChunks()
	p := PerWebhook{
		APIGateway:     float64(u.APIGateway) / n,
		LambdaInvokes:  float64(invokes) / n,
		SQS:            float64(chunks) / n,
		SQSCalls:       float64(u.Requests.Of(SQSRequest)) / n,
		DynamoDBReads:  float64(u.Requests.Of(DynamoDBRead)) / n,
		DynamoDBWrites: float64(u.Requests.Of(DynamoDBWrite)) / n,
		S3Puts:         float64(u.Requests.Of(S3Put)) / n,
		S3Gets:         float64(u.Requests.Of(S3Get)) / n,
		LogBytes:       float64(u.LogBytes) / n,
	}
	p.Billable = float64(u.APIGateway+invokes+chunks+u.Requests.Of(DynamoDBRead)+u.Requests.Of(DynamoDBWrite)+
		u.Requests.Of(S3Put)+u.Requests.Of(S3Get)) / n
	return p
}

// Scenario is one traffic pattern's cost.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Webhooks    int    `json:"webhooks"`
	// BodyBytes is the size of each webhook's body in bytes.
	BodyBytes  int        `json:"bodyBytes"`
	PerWebhook PerWebhook `json:"perWebhook"`
	// Lambda are the invocations by function; every function is listed, 0 included.
	Lambda map[string]int `json:"lambda"`
	// Operations are the AWS SDK requests by "Service.Operation"; SQSChunks the SQS
	// ones in 64 KB chunks.
	Operations map[string]int `json:"operations"`
	SQSChunks  map[string]int `json:"sqsChunks,omitempty"`
}

// NewScenario is the scenario of webhooks webhooks that used u.
func NewScenario(name, description string, webhooks int, u Usage) Scenario {
	lambda := map[string]int{FnIngest: 0, FnProcessor: 0, FnRedrive: 0}
	for fn, v := range u.Invocations {
		lambda[fn] += v
	}
	return Scenario{Name: name, Description: description, Webhooks: webhooks, PerWebhook: u.PerWebhook(webhooks),
		Lambda: lambda, Operations: u.Requests.Names(), SQSChunks: u.SQSChunks.Names()}
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
	fmt.Fprintf(&b, "%-16s %5s %7s %7s %6s %7s %7s %7s %5s %5s %8s %8s\n",
		"scenario", "n", "apiGw", "invokes", "sqs", "sqsCall", "ddbRead", "ddbWrit", "s3Put", "s3Get", "billable", "logBytes")
	for _, s := range r.Scenarios {
		p := s.PerWebhook
		fmt.Fprintf(&b, "%-16s %5d %7.2f %7.2f %6.2f %7.2f %7.3f %7.2f %5.2f %5.2f %8.2f %8.1f\n",
			s.Name, s.Webhooks, p.APIGateway, p.LambdaInvokes, p.SQS, p.SQSCalls, p.DynamoDBReads, p.DynamoDBWrites, p.S3Puts, p.S3Gets, p.Billable, p.LogBytes)
	}
	for _, s := range r.Scenarios {
		ops := Counts{}
		for name, v := range s.Operations {
			svc, op, _ := strings.Cut(name, ".")
			ops[Op{Service: svc, Operation: op}] += v
		}
		chunks := ""
		if len(s.SQSChunks) > 0 && ops.Of(SQSRequest) != sumValues(s.SQSChunks) {
			chunks = fmt.Sprintf("; SQS in 64 KB chunks: %s", namedCounts(s.SQSChunks))
		}
		fmt.Fprintf(&b, "  %s: lambda ingest=%d processor=%d redrive=%d; %s%s\n",
			s.Name, s.Lambda[FnIngest], s.Lambda[FnProcessor], s.Lambda[FnRedrive], ops, chunks)
	}
	fmt.Fprintf(&b, "batches of %d; breaker reads per record (happy) %.3f; largest idempotency item %d bytes\n",
		r.BatchSize, r.BreakerReadsPerRecord, r.MaxIdempotencyItemBytes)
	return b.String()
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// namedCounts lists m in name order: "SQS.ReceiveMessage=3 SQS.SendMessage=20".
func namedCounts(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
