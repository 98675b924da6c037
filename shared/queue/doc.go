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
//   - A message SQS can never accept, whose body or an attribute value holds a
//     character outside #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD |
//     #x10000–#x10FFFF, or whose body and attributes together are over
//     MaxMessageBytes (1 MiB), is refused by both adapters before it reaches a queue,
//     with a permanent error matching ErrMessageRefused (and ErrInvalidRequest); the
//     SQS adapter also classifies SQS's own answers to such a message
//     (InvalidMessageContents, InvalidParameterValue "Message must be shorter than …")
//     so. A caller detects it with errors.Is(err, ErrMessageRefused): retrying the
//     same message can never succeed. In a batch such an entry fails alone.
package queue
