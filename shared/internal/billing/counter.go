package billing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Op is one AWS API operation as the SDK names it: the service id ("SQS",
// "DynamoDB") and the operation ("SendMessage").
type Op struct {
	Service   string
	Operation string
}

// String is "Service.Operation", e.g. "SQS.SendMessage".
func (o Op) String() string { return o.Service + "." + o.Operation }

// Counts are requests by operation.
type Counts map[Op]int

// Total is the number of requests.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Of is the number of requests billed as class (see Classify).
func (c Counts) Of(class Class) int {
	n := 0
	for op, v := range c {
		if Classify(op) == class {
			n += v
		}
	}
	return n
}

// Service returns the counts of one service's operations (ServiceSQS,
// ServiceDynamoDB, ...).
func (c Counts) Service(id string) Counts {
	out := Counts{}
	for op, v := range c {
		if op.Service == id {
			out[op] = v
		}
	}
	return out
}

// Sub returns c minus d, operation by operation, leaving out operations that end at
// zero. A negative result means d was not taken from c.
func (c Counts) Sub(d Counts) Counts {
	out := maps.Clone(c)
	if out == nil {
		out = Counts{}
	}
	for op, v := range d {
		out[op] -= v
		if out[op] == 0 {
			delete(out, op)
		}
	}
	return out
}

// Names returns the counts keyed by Op.String, as in the report's operations.
func (c Counts) Names() map[string]int {
	out := make(map[string]int, len(c))
	for op, v := range c {
		out[op.String()] += v
	}
	return out
}

// String lists the operations in name order: "DynamoDB.GetItem=1 SQS.SendMessage=50".
func (c Counts) String() string {
	names := c.Names()
	keys := slices.Collect(maps.Keys(names))
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, names[k])
	}
	return strings.Join(parts, " ")
}

// Counter counts the HTTP attempts of AWS SDK operations by service and operation.
// Put it on a configuration with Config (every client made from the result counts),
// or on one client's options with Add. Make it with NewCounter. It is safe for
// concurrent use.
type Counter struct {
	id string

	mu     sync.Mutex
	counts Counts
	chunks Counts // SQS requests in 64 KB chunks (see ChunkBytes)
}

var counterSeq atomic.Int64

// NewCounter returns a Counter with nothing counted. Each Counter has its own
// middleware id, so several can count the same client (one for every request, one
// for a single store's).
func NewCounter() *Counter {
	return &Counter{id: fmt.Sprintf("tenaz.billing.Counter.%d", counterSeq.Add(1)), counts: Counts{}, chunks: Counts{}}
}

// Add puts the counter on an operation's middleware stack, at the end of the
// Deserialize step: below the retry loop, next to the transport, so every attempt
// passes through it. It is an APIOptions function:
//
//	cfg.APIOptions = append(cfg.APIOptions, c.Add)
//
// Adding one Counter twice to a stack is an error (the operation fails), never a
// double count.
func (c *Counter) Add(stack *middleware.Stack) error {
	if _, ok := stack.Deserialize.Get(c.id); ok {
		return fmt.Errorf("billing: %s is already on the %s stack: it would count every request twice", c.id, stack.ID())
	}
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc(c.id, c.count), middleware.After)
}

// Config returns a copy of cfg whose clients count on c. Neither cfg nor the
// returned APIOptions share room to grow: an append to either never writes into the
// other.
func (c *Counter) Config(cfg aws.Config) aws.Config {
	cfg.APIOptions = slices.Clip(append(slices.Clip(cfg.APIOptions), c.Add))
	return cfg
}

func (c *Counter) count(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error) {
	op := Op{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
	sent := 0
	if op.Service == ServiceSQS {
		sent = requestBytes(in.Request)
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	chunks := 0
	if op.Service == ServiceSQS {
		chunks = Chunks(max(sent, responseBytes(out.RawResponse)))
	}
	c.mu.Lock()
	c.counts[op]++
	if chunks > 0 {
		c.chunks[op] += chunks
	}
	c.mu.Unlock()
	return out, md, err
}

// ChunkBytes is the size of the payload SQS bills as one request: 64 KiB.
const ChunkBytes = 64 << 10

// Chunks is the number of SQS requests a call with an HTTP body of n bytes (the
// larger of its request and its response) is billed as: one per ChunkBytes begun,
// at least one.
func Chunks(n int) int {
	return max(1, (n+ChunkBytes-1)/ChunkBytes)
}

// requestBytes is the size of a request's body: its Content-Length (set in the
// Build step, before this one), else the length of a body that knows it.
func requestBytes(raw any) int {
	req, ok := raw.(*smithyhttp.Request)
	if !ok {
		return 0
	}
	if req.ContentLength > 0 {
		return int(req.ContentLength)
	}
	if l, ok := req.GetStream().(interface{ Len() int }); ok {
		return l.Len()
	}
	return 0
}

// responseBytes is the size of a response's body: its Content-Length, else the
// body read into memory and put back for the deserializer. No response (a network
// error) is 0.
func responseBytes(raw any) int {
	resp, ok := raw.(*smithyhttp.Response)
	if !ok || resp == nil || resp.Response == nil {
		return 0
	}
	if resp.ContentLength >= 0 {
		return int(resp.ContentLength)
	}
	if resp.Body == nil {
		return 0
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	// A body cut short is handed on as read, with the error, to fail the call as it
	// would have.
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
	resp.ContentLength = int64(len(body))
	if err != nil {
		resp.ContentLength = -1
	}
	return len(body)
}

// errReader returns err, or io.EOF when err is nil.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// Snapshot returns a copy of the counts so far.
func (c *Counter) Snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Chunks returns a copy of the SQS requests so far in 64 KB chunks, by operation:
// what SQS bills (see Chunks). Other services have none.
func (c *Counter) Chunks() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.chunks)
}

// Reset forgets everything counted.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts, c.chunks = Counts{}, Counts{}
}

// Take returns the requests and the SQS chunks so far and resets the counter, as
// one step: no request is lost or counted twice between the two.
func (c *Counter) Take() (requests, chunks Counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	requests, chunks = c.counts, c.chunks
	c.counts, c.chunks = Counts{}, Counts{}
	return requests, chunks
}
