// Package billing counts what a webhook costs in billable AWS requests: an AWS SDK
// middleware (Counter) that counts every HTTP attempt of every client made from one
// aws.Config, by service and operation, and the report the billing test writes from
// those counts (Report, one Scenario per traffic pattern, figures per webhook).
//
// Invariants:
//   - A Counter counts in the Deserialize step, below the SDK's retry loop (which
//     sits in the Finalize step): every attempt sent is counted once, so an
//     operation the SDK retries counts once per attempt, as AWS bills it. An
//     attempt that got no answer (a network error) is counted too: AWS may have
//     received it.
//   - Counts are requests, not capacity units: a DynamoDB write of an item over
//     1 KB, or a transaction, costs more units than the one request counted here
//     (ItemSize tells whether an item fits in one unit).
//   - Classify decides how a request is billed: every SQS operation is an SQS
//     request; DynamoDB data operations are reads or writes (a conditional write
//     whose condition failed is a write); anything else (DynamoDB control plane,
//     other services) is Other and is in no per-webhook figure.
//   - A Counter is safe for concurrent use; Snapshot returns a copy.
package billing
