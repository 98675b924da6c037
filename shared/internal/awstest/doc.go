// Package awstest is the test support of Tenaz's AWS adapters: it connects
// integration tests to the AWS API emulator (moto server) that the test script
// starts, and holds the DynamoDB scaffolding the store packages share (a table per
// test, a call counter, a throttling client, errors shaped as the SDK returns them).
//
// Invariants:
//   - The endpoint comes from TENAZ_TEST_ENDPOINT (set by infra/test.sh). A test
//     built with the integration tag fails, never skips, when it is missing: a suite
//     that did not run must not look green.
//   - Every resource a test creates has a name unique within the run (Name), so
//     tests and cases create their own tables and queues and run in parallel.
//   - Calls counts operations, not HTTP attempts: an operation the SDK retries counts
//     once.
//   - The fakes (Throttled, DynamoDBError) need no emulator; unit tests use them too.
package awstest
