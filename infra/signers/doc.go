// Package signers holds the signers test suite (build tag signers; `make test` runs it
// as the signers suite): every webhook preset is checked against signatures made by
// code Tenaz did not write, in both directions.
//
//   - The provider's library (or, where none is published, the recipe of the
//     provider's documentation written with node:crypto) signs; Tenaz's ingest
//     verification accepts it with the right id and type, and refuses a tampered
//     body and a signature made with another key.
//   - Tenaz's signer (webhook.Source.SignBody, the one `make send` and the samples use)
//     signs; the provider's library accepts it and refuses it once tampered.
//   - Tenaz's signed deliveries (the forward handler of a route with a
//     signingSecret) are verified by the official Standard Webhooks library, with
//     one secret and during a rotation (two), and refused tampered or under another
//     secret (deliveries_test.go).
//
// The npm libraries are pinned by package.json and package-lock.json in this
// directory and installed by infra/setup.sh with `npm ci`; slack_sdk is pinned in
// requirements-dev.txt. signers.mjs and slack.py print the versions they ran, and the
// test logs them with the name of what signed and verified each preset.
package signers
