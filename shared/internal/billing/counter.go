package billing

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
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
}

var counterSeq atomic.Int64

// NewCounter returns a Counter with nothing counted. Each Counter has its own
// middleware id, so several can count the same client (one for every request, one
// for a single store's).
func NewCounter() *Counter {
	return &Counter{id: fmt.Sprintf("tenaz.billing.Counter.%d", counterSeq.Add(1)), counts: Counts{}}
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
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
	return next.HandleDeserialize(ctx, in)
}

// Snapshot returns a copy of the counts so far.
func (c *Counter) Snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Reset forgets everything counted.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = Counts{}
}

// Take returns the counts so far and resets the counter, as one step: no request is
// lost or counted twice between the two.
func (c *Counter) Take() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = Counts{}
	return out
}
