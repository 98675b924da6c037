// Package config reads a Tenaz function's settings from its environment, once per
// container, and builds the AWS SDK configuration.
//
// Invariants:
//   - Every setting has a documented name, unit and default; a malformed value is an
//     error that names the variable (never its value when it may hold a secret).
//   - Webhook sources (TENAZ_SOURCES, TENAZ_SOURCES_SECRET_ID) are loaded by the
//     subpackage sources, which only ingest links. Secrets are never logged or put in
//     an error.
//   - AWS endpoints come from the SDK's own settings (AWS_ENDPOINT_URL, AWS_REGION, …);
//     SDK calls are retried by the SDK's standard retryer, not by Tenaz code.
package config
