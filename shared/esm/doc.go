// Package esm stands in for the Lambda SQS event source mapping where there is none:
// the local runner and the end-to-end tests. A Poller long-polls a queue, hands each
// batch to a function as the events.SQSEvent Lambda would build, and deletes what the
// function processed.
//
// Invariants:
//   - A record is deleted only after an invocation that returned without error and
//     did not list the record in batchItemFailures (ReportBatchItemFailures).
//   - An invocation that fails as a whole (error, panic, timeout) or that names an
//     unknown or empty itemIdentifier deletes nothing: every record comes back after
//     its visibility timeout with ApproximateReceiveCount one higher, as with Lambda.
//   - Records carry what Lambda puts in them: messageId, receiptHandle, body,
//     md5OfBody, md5OfMessageAttributes, the attributes ApproximateReceiveCount,
//     SentTimestamp, SenderId and ApproximateFirstReceiveTimestamp, String message
//     attributes, eventSource "aws:sqs", eventSourceARN and awsRegion.
//   - Each poller has at most one invocation in flight. When the context ends, no
//     new batch is received; a batch already received is invoked and settled first.
package esm
