//go:build integration

// Package e2e runs Tenaz's real bootstrap binaries under the AWS Lambda Runtime
// Interface Emulator against moto server: the same binaries `sam build` ships, the
// same AWS SDK calls, with a poller standing in for the SQS event source mapping.
package e2e
