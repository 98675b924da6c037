// Package testclock is the fake clock of Tenaz's tests and of the chaos simulation:
// a time that moves only when told, handed to the code under test as its injected
// `now func() time.Time` (pass the method value Clock.Now).
//
// Invariants:
//   - A Clock reads the instant it was made at (or last Set to) plus every Advance
//     since; nothing else moves it, so a test decides exactly when a lease, a
//     visibility timeout or a breaker's open period runs out.
//   - A Clock is safe for concurrent use: code under test may read it from many
//     goroutines while the test moves it.
//   - It has no timers and never sleeps. Code that waits on real timers is tested
//     with testing/synctest instead.
package testclock
