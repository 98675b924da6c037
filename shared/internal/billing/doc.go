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
//     whose condition failed is a write); S3 object operations are of the PUT tier
//     (PutObject, CopyObject, ListObjects*), of the GET tier (GetObject,
//     HeadObject) or free (DeleteObject); anything else (DynamoDB control plane,
//     S3 bucket configuration, other services) is Other and is in no per-webhook
//     figure.
//   - SQS bills each 64 KB chunk of a call's payload as one request. A Counter
//     records, per SQS call, Chunks(max(request body bytes, response body bytes)):
//     at least 1, one per 64 KiB begun. This approximates the payload by the HTTP
//     body, JSON framing included (queue URL, receipt handles, MD5s, escaping), so
//     it can count one chunk more than AWS near a 64 KiB boundary, never fewer;
//     a batch of 10 x 2 KB messages is one chunk either way. The per-webhook SQS
//     figure is in chunks; SQSCalls keeps the calls.
//   - A Counter is safe for concurrent use; Snapshot returns a copy.
package billing
