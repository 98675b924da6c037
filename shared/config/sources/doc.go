// Package sources loads the ingest function's webhook sources: the inline JSON of
// TENAZ_SOURCES, or, when it is empty, the Secrets Manager secret named by
// TENAZ_SOURCES_SECRET_ID. It is apart from package config so that functions that
// verify nothing (the processor, the redrive function) do not link the verifier or
// the Secrets Manager client.
//
// Invariants:
//   - Inline sources win over the secret; the secret is read once per call.
//   - Every source is validated before any is returned; an error names the variable
//     or the secret id, never a secret value.
package sources
