// Package sources loads the ingest function's webhook sources: the inline JSON of
// TENAZ_SOURCES, or, when it is empty, the SSM Parameter Store parameter named by
// TENAZ_SOURCES_PARAMETER (a SecureString, read decrypted: the standard tier costs
// nothing per month), or, when that is empty too, the Secrets Manager secret named
// by TENAZ_SOURCES_SECRET_ID ($0.40 a month per secret). It is apart from package
// config so that functions that verify nothing (the processor, the redrive
// function) do not link the verifier or the SSM and Secrets Manager clients.
//
// The parameter and the secret are "the store" below; both are read and refreshed
// the same way.
//
// Load is strict (one invalid entry fails it); LoadSet and Catalog degrade: an
// invalid entry is logged by name and reason and its route answers 404, while the
// other sources work. Catalog is what the ingest function uses: it re-reads the
// store when a request finds the sources older than TENAZ_SOURCES_REFRESH_SECONDS
// (seconds, default 300), and at once when a signature fails for a source (its
// secret may have rotated), at most once per MinRefreshGap (10 s) for both causes;
// a request within the interval makes no store call. The re-read happens on the
// request that finds it due, so at most one request per interval pays one
// GetParameter or GetSecretValue call (tens of milliseconds); a failed re-read
// keeps the sources in hand and is retried no sooner than MinRefreshGap.
//
// Invariants:
//   - Inline sources win over the store and are never re-read; the parameter wins
//     over the secret (the secret is then never read); the store is read once per
//     call of Load or LoadSet.
//   - Load validates every source before any is returned; LoadSet and Catalog fail
//     only when the value cannot be read or is not a JSON object.
//   - An error names the variable, the parameter name, the secret id or the entry,
//     never a secret value.
package sources
