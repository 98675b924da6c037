// Package queue is Tenaz's message queue port with two adapters: SQS (the product)
// and Memory (the local runner and the tests), both checked by one contract suite
// (queuetest).
//
// Invariants:
//   - Both adapters behave as an SQS standard queue: a received message stays
//     invisible for its visibility timeout and then comes back with
//     ReceiveCount one higher; a receipt handle is valid until the message is
//     received again; a message received MaxReceiveCount times moves to the
//     dead-letter queue on a later receive, with a new id and the same body and
//     attributes.
//   - Message attributes are strings; one with an empty value is never sent.
//   - Time values are whole seconds where SQS takes whole seconds (rounded up,
//     clamped to SQS's limits); batch calls take 1..MaxBatch entries and return one
//     BatchResult per entry, in order.
//   - Every error is an *Error that says whether a retry can help (IsRetryable) and
//     matches one of the Err* kinds with errors.Is where SQS gave a known code:
//     network errors, throttling and server faults are retryable; invalid requests,
//     invalid receipt handles and missing queues are not.
package queue
