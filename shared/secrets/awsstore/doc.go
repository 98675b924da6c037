// Package awsstore holds the AWS stores of package secrets: SSM Parameter Store
// (GetParameter with decryption) and Secrets Manager (GetSecretValue of the current
// version), each over the one SDK call it makes, retried (throttling, 5xx,
// connection errors) by the SDK client's own retryer.
//
// Invariants:
//   - A value is returned as stored, never logged, and never part of an error; errors
//     are the SDK's (ParameterNotFound, ResourceNotFoundException,
//     AccessDeniedException, …) with the name read.
package awsstore
