package route

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// matchDP is the reference for Match: the textbook dynamic program over bytes,
// at[j] = "pattern[:i] matches typ[:j]", in O(len(pattern)·len(typ)).
func matchDP(pattern, typ string) bool {
	at := make([]bool, len(typ)+1)
	at[0] = true
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '*' {
			for j := 1; j <= len(typ); j++ {
				at[j] = at[j] || at[j-1]
			}
			continue
		}
		for j := len(typ); j >= 1; j-- {
			at[j] = at[j-1] && typ[j-1] == pattern[i]
		}
		at[0] = false
	}
	return at[len(typ)]
}

// matchRegexp is a second reference for valid UTF-8: the pattern's literal pieces
// quoted, each '*' as "any run of characters, newlines included".
func matchRegexp(t testing.TB, pattern, typ string) bool {
	t.Helper()
	pieces := strings.Split(pattern, "*")
	for i, p := range pieces {
		pieces[i] = regexp.QuoteMeta(p)
	}
	re, err := regexp.Compile(`^` + strings.Join(pieces, `(?s:.*)`) + `$`)
	if err != nil {
		t.Fatalf("reference regexp for %q: %v", pattern, err)
	}
	return re.MatchString(typ)
}

func TestMatchEdgeCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "", true},
		{"**", "", true},
		{"a**b", "ab", true},
		{"", "a", false},
		{"a*", "", false},
		{"*a", "a", true},
		{"a*a", "a", false}, // the prefix and the suffix may not share the one 'a'
		{"a*a", "aa", true},
		{"ab*ba", "aba", false},
		{"ab*ba", "abba", true},
		{"*ab*ab*", "xabyab", true},
		{"*ab*ab*", "xaby", false},
		{"*aab*", "aaab", true}, // the leftmost candidate "aa" is followed by 'a', not 'b'
		{"x*.*y", "x.y", true},
		{"x*.*y", "xy", false},
		{"*.*.*x", "a.b.cx", true},
		{"*.*.*x", "a.b.c", false},
		{"*.*.*x", "a.bx", false},
		{"orders/*", "orders/", true},
		{"a.b", "aXb", false}, // '.' is literal, not a regexp dot
		{"*?", "a", false},    // so is '?'
		{"*?", "a?", true},
	}
	for _, c := range cases {
		if got := Match(c.pattern, c.typ); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.typ, got, c.want)
		}
		if ref := matchDP(c.pattern, c.typ); ref != c.want {
			t.Errorf("reference(%q, %q) = %v, want %v; the table is wrong", c.pattern, c.typ, ref, c.want)
		}
	}
}

// adversarial are patterns and types on which a matcher that tries every split
// point for every '*' takes time exponential in the number of stars.
func adversarial(n int) []struct{ pattern, typ string } {
	dots := strings.Repeat("a.", n/2)
	as := strings.Repeat("a", n)
	return []struct{ pattern, typ string }{
		{"*.*.*x", dots},
		{"*.*.*.*.*.*.*x", dots},
		{"*a*a*a*a*a*a*a*b", as},
		{"*a*a*a*a*a*a*a*b*", as},
		{"a*a*a*a*a*a*a*a", as + "b"},
		{"*" + strings.Repeat("a", 50) + "b*", as},
		{strings.Repeat("*a", 200) + "*", as},
	}
}

func TestMatchAdversarialIsFast(t *testing.T) {
	t.Parallel()
	// Each case runs well under a millisecond; the recursive matcher this replaced
	// needed seconds for the first and far longer for the others. The bound is loose
	// so that a loaded machine under -race cannot fail it.
	for _, n := range []int{2000, 8000} {
		for _, c := range adversarial(n) {
			start := time.Now()
			got := Match(c.pattern, c.typ)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("Match(%.20q, %d bytes) took %v", c.pattern, len(c.typ), el)
			}
			want := strings.HasSuffix(c.pattern, "a*") // only the last case matches
			if got != want {
				t.Errorf("Match(%.20q…, %d bytes) = %v, want %v", c.pattern, len(c.typ), got, want)
			}
		}
	}
	if ref := matchDP(adversarial(500)[6].pattern, adversarial(500)[6].typ); !ref {
		t.Fatal("reference disagrees with the table: 200 'a's do fit in 500")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	c := adversarial(2000)[2]
	if n := testing.AllocsPerRun(20, func() { Match(c.pattern, c.typ) }); n != 0 {
		t.Fatalf("Match allocates %v times per call, want 0", n)
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"payment_intent.*", "payment_intent.succeeded"},
		{"*.*.*x", "a.b.c.x"},
		{"a*b*c", "axxbyyc"},
		{"*aab*", "aaab"},
		{"a*a", "a"},
		{"**", ""},
		{"*\n*", "a\nb"},
		{"\xff*", "\xff\xfe"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, typ string) {
		if len(pattern) > 256 || len(typ) > 1024 {
			return // the reference is quadratic
		}
		got := Match(pattern, typ)
		if want := matchDP(pattern, typ); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pattern, typ, got, want)
		}
		if utf8.ValidString(pattern) && utf8.ValidString(typ) {
			if want := matchRegexp(t, pattern, typ); got != want {
				t.Fatalf("Match(%q, %q) = %v, regexp says %v", pattern, typ, got, want)
			}
		}
	})
}

// BenchmarkMatch shows the time per call growing linearly with the type's length:
// "scan" makes Match search the whole type for a piece that is not there, "stars"
// is the pattern that once took seconds at 2,000 bytes.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{500, 1000, 2000, 4000} {
		typ := strings.Repeat("a.", n/2)
		for _, c := range []struct{ name, pattern string }{
			{"scan", "*.*.*a.x*"},
			{"stars", "*.*.*x"},
			{"many-stars", "*a*a*a*a*a*a*a*b*"},
		} {
			b.Run(fmt.Sprintf("%s/len=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if Match(c.pattern, typ) {
						b.Fatal("matched")
					}
				}
			})
		}
	}
}
