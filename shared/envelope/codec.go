package envelope

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The codec reads and writes the wire object by hand, with the byte-for-byte
// behaviour of encoding/json on the struct
//
//	struct {
//		V            int               `json:"v"`
//		Source       string            `json:"source"`
//		ID           string            `json:"id"`
//		Type         string            `json:"type"`
//		ReceivedAt   time.Time         `json:"receivedAt"`
//		Headers      map[string]string `json:"headers,omitempty"`
//		Body         string            `json:"body"`
//		BodyEncoding string            `json:"bodyEncoding,omitempty"`
//	}
//
// which is how envelopes were first written: the fuzz tests hold the two to the same
// answers. Doing it by hand costs no reflection and, for strings without escapes, no
// copies.

// maxDepth is encoding/json's limit on nested objects and arrays.
const maxDepth = 10000

// jstr is a JSON string as found in the input: the text between its quotes, and
// whether that text must be unescaped (escapes, or bytes that are not UTF-8).
type jstr struct {
	raw     string
	escaped bool
}

// text is the string's value.
func (j jstr) text() string {
	if !j.escaped {
		return j.raw
	}
	return string(appendUnquoted(make([]byte, 0, len(j.raw)), j.raw))
}

// wire is the decoded wire object.
type wire struct {
	v                             int64
	source, id, typ, bodyEncoding jstr
	body                          []byte // decoded; nil until a body member
	receivedAt                    time.Time
	headers                       map[string]string
	s                             string // the input
	i                             int    // read position in s
}

var (
	errEnd    = errors.New("unexpected end of JSON input")
	errDepth  = errors.New("exceeded max depth")
	errNotObj = errors.New("not a JSON object")
)

func (w *wire) syntax(what string) error {
	return errors.New("invalid JSON at offset " + strconv.Itoa(w.i) + ": " + what)
}

func typeError(member, want string) error {
	return errors.New("member " + strconv.Quote(member) + ": want " + want)
}

// member names of the wire object.
const (
	mUnknown = iota
	mV
	mSource
	mID
	mType
	mReceivedAt
	mHeaders
	mBody
	mBodyEncoding
)

var memberNames = [...]string{
	mV: "v", mSource: "source", mID: "id", mType: "type", mReceivedAt: "receivedAt",
	mHeaders: "headers", mBody: "body", mBodyEncoding: "bodyEncoding",
}

// member finds the wire member a key names: exactly, or else as encoding/json
// does, under Unicode case folding.
func member(key string) int {
	switch key {
	case "v":
		return mV
	case "source":
		return mSource
	case "id":
		return mID
	case "type":
		return mType
	case "receivedAt":
		return mReceivedAt
	case "headers":
		return mHeaders
	case "body":
		return mBody
	case "bodyEncoding":
		return mBodyEncoding
	}
	for m := mV; m < len(memberNames); m++ {
		if strings.EqualFold(key, memberNames[m]) {
			return m
		}
	}
	return mUnknown
}

// parse reads s, one JSON object, into w.
func (w *wire) parse(s string) error {
	w.s, w.i = s, 0
	w.space()
	if w.i >= len(s) {
		return errEnd
	}
	if s[w.i] != '{' {
		// Another JSON value (or none): no envelope either way.
		if err := w.skip(0); err != nil {
			return err
		}
		return errNotObj
	}
	w.i++
	w.space()
	if w.more('}') {
		w.i++
	} else {
		for {
			k, err := w.str()
			if err != nil {
				return err
			}
			if err := w.colon(); err != nil {
				return err
			}
			key := k.text()
			if err := w.value(key, member(key)); err != nil {
				return err
			}
			w.space()
			if w.i >= len(s) {
				return errEnd
			}
			if c := s[w.i]; c == ',' {
				w.i++
				w.space()
				continue
			} else if c != '}' {
				return w.syntax("after object member")
			}
			w.i++
			break
		}
	}
	w.space()
	if w.i != len(s) {
		return w.syntax("data after the object")
	}
	return nil
}

// value reads the value of member m (named key in the input).
func (w *wire) value(key string, m int) error {
	if w.i >= len(w.s) {
		return errEnd
	}
	c := w.s[w.i]
	if c == 'n' {
		// null sets a map to nil and leaves every other member as it was.
		if err := w.literal("null"); err != nil {
			return err
		}
		if m == mHeaders {
			w.headers = nil
		}
		return nil
	}
	var dst *jstr
	switch m {
	case mUnknown:
		return w.skip(1)
	case mV:
		return w.version(key)
	case mReceivedAt:
		return w.time(key)
	case mHeaders:
		return w.headerObject(key)
	case mSource:
		dst = &w.source
	case mID:
		dst = &w.id
	case mType:
		dst = &w.typ
	case mBody:
		if c == '"' {
			return w.bodyString()
		}
	case mBodyEncoding:
		dst = &w.bodyEncoding
	}
	if c != '"' {
		if err := w.skip(1); err != nil {
			return err
		}
		return typeError(key, "a string")
	}
	j, err := w.str()
	if err != nil {
		return err
	}
	*dst = j
	return nil
}

// version reads v: an integer, as encoding/json reads an int.
func (w *wire) version(key string) error {
	start := w.i
	if err := w.skip(1); err != nil {
		return err
	}
	tok := w.s[start:w.i]
	if c := tok[0]; c != '-' && (c < '0' || c > '9') || strings.ContainsAny(tok, ".eE") {
		return typeError(key, "an integer")
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return typeError(key, "an integer")
	}
	w.v = n
	return nil
}

// time reads receivedAt as time.Time's UnmarshalJSON does: given the string's raw
// text, escapes included.
func (w *wire) time(key string) error {
	start := w.i
	if err := w.skip(1); err != nil {
		return err
	}
	var buf [64]byte
	var t time.Time
	if err := t.UnmarshalJSON(append(buf[:0], w.s[start:w.i]...)); err != nil {
		return typeError(key, "an RFC 3339 time string")
	}
	w.receivedAt = t
	return nil
}

// headerObject reads the headers: an object of strings (null counts as "").
// Repeated headers members add to the same map, as encoding/json does.
func (w *wire) headerObject(key string) error {
	if w.s[w.i] != '{' {
		if err := w.skip(1); err != nil {
			return err
		}
		return typeError(key, "an object of strings")
	}
	w.i++
	if w.headers == nil {
		w.headers = make(map[string]string, 4)
	}
	w.space()
	if w.more('}') {
		w.i++
		return nil
	}
	for {
		k, err := w.str()
		if err != nil {
			return err
		}
		if err := w.colon(); err != nil {
			return err
		}
		if w.i >= len(w.s) {
			return errEnd
		}
		switch w.s[w.i] {
		case '"':
			v, err := w.str()
			if err != nil {
				return err
			}
			w.headers[k.text()] = v.text()
		case 'n':
			if err := w.literal("null"); err != nil {
				return err
			}
			w.headers[k.text()] = ""
		default:
			if err := w.skip(2); err != nil {
				return err
			}
			return typeError(key, "an object of strings")
		}
		w.space()
		if w.i >= len(w.s) {
			return errEnd
		}
		if c := w.s[w.i]; c == ',' {
			w.i++
			w.space()
			continue
		} else if c != '}' {
			return w.syntax("after object member")
		}
		w.i++
		return nil
	}
}

func (w *wire) space() {
	for w.i < len(w.s) {
		switch w.s[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// more reports whether the next byte is c.
func (w *wire) more(c byte) bool { return w.i < len(w.s) && w.s[w.i] == c }

// colon reads the ':' after an object key and the space around it.
func (w *wire) colon() error {
	w.space()
	if !w.more(':') {
		if w.i >= len(w.s) {
			return errEnd
		}
		return w.syntax("want ':' after object key")
	}
	w.i++
	w.space()
	return nil
}

func (w *wire) literal(lit string) error {
	if strings.HasPrefix(w.s[w.i:], lit) {
		w.i += len(lit)
		return nil
	}
	if len(w.s)-w.i < len(lit) && strings.HasPrefix(lit, w.s[w.i:]) {
		return errEnd
	}
	return w.syntax("invalid literal")
}

// str reads a string (at its opening quote), checking it as encoding/json's scanner
// does: no control characters, only the escapes JSON defines.
func (w *wire) str() (jstr, error) {
	if !w.more('"') {
		if w.i >= len(w.s) {
			return jstr{}, errEnd
		}
		return jstr{}, w.syntax("want a string")
	}
	start := w.i + 1
	escaped, high := false, false
	for i := start; ; {
		var h bool
		i, h = plainRun(w.s, i)
		high = high || h
		if i >= len(w.s) {
			return jstr{}, errEnd
		}
		switch c := w.s[i]; {
		case c == '"':
			j := jstr{raw: w.s[start:i], escaped: escaped}
			if !escaped && high && !utf8.ValidString(j.raw) {
				j.escaped = true
			}
			w.i = i + 1
			return j, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(w.s) {
				return jstr{}, errEnd
			}
			switch w.s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(w.s) {
						return jstr{}, errEnd
					}
					if hexVal(w.s[k]) < 0 {
						w.i = k
						return jstr{}, w.syntax("invalid \\u escape")
					}
				}
				i += 6
			default:
				w.i = i + 1
				return jstr{}, w.syntax("invalid escape")
			}
		default: // a control character
			w.i = i
			return jstr{}, w.syntax("control character in string")
		}
	}
}

// bodyString reads the body's string (at its opening quote) as str does, decoding it
// in the same pass: a body is most of an envelope, and mostly escapes.
func (w *wire) bodyString() error {
	start := w.i + 1
	// The rest of the input bounds the decoded length.
	dst := w.body[:0]
	if cap(dst) < len(w.s)-start {
		dst = make([]byte, 0, len(w.s)-start)
	}
	high := false
	for i := start; ; {
		j, h := plainRun(w.s, i)
		high = high || h
		dst = append(dst, w.s[i:j]...)
		if i = j; i >= len(w.s) {
			return errEnd
		}
		switch c := w.s[i]; {
		case c == '"':
			if high && !utf8.Valid(dst) {
				// Bytes that are not UTF-8 become U+FFFD, as encoding/json has it.
				dst = appendUnquoted(dst[:0], w.s[start:i])
			}
			w.body, w.i = dst, i+1
			return nil
		case c == '\\':
			if i+1 >= len(w.s) {
				return errEnd
			}
			switch e := w.s[i+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(w.s) {
						return errEnd
					}
					if hexVal(w.s[k]) < 0 {
						w.i = k
						return w.syntax("invalid \\u escape")
					}
				}
			default:
				w.i = i + 1
				return w.syntax("invalid escape")
			}
			dst, i = appendEscape(dst, w.s, i)
		default: // a control character
			w.i = i
			return w.syntax("control character in string")
		}
	}
}

// Word-at-a-time scanning: eight bytes of a string in one uint64.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func load8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// hasByte reports whether a byte of x is b.
func hasByte(x uint64, b byte) bool {
	y := x ^ (ones * uint64(b))
	return (y-ones)&^y&highs != 0
}

// plainRun returns the index of the first quote, backslash or control character of
// s at or after i (len(s) if none), and whether a byte before it is not ASCII.
func plainRun(s string, i int) (int, bool) {
	var acc uint64
	for ; i+8 <= len(s); i += 8 {
		x := load8(s, i)
		// A byte below 0x20 (ASCII bytes only; the others are seen by acc).
		if (x-ones*0x20)&^x&highs != 0 || hasByte(x, '"') || hasByte(x, '\\') {
			break
		}
		acc |= x
	}
	high := acc&highs != 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 {
			return i, high
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	return i, high
}

// escapeRun returns the index of the first backslash or non-ASCII byte of s at or
// after i, len(s) if none.
func escapeRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if x := load8(s, i); x&highs != 0 || hasByte(x, '\\') {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '\\' || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// number reads a JSON number.
func (w *wire) number() error {
	s, i := w.s, w.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return errEnd
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		w.i = i
		return w.syntax("invalid number")
	}
	var err error
	if i < len(s) && s[i] == '.' {
		if i, err = w.digits(s, i+1); err != nil {
			return err
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i, err = w.digits(s, i); err != nil {
			return err
		}
	}
	w.i = i
	return nil
}

// digits reads the run of at least one digit that starts at i (a fraction's or an
// exponent's) and returns the index after it.
func (w *wire) digits(s string, i int) (int, error) {
	if i >= len(s) {
		return i, errEnd
	}
	if s[i] < '0' || s[i] > '9' {
		w.i = i
		return i, w.syntax("invalid number")
	}
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i, nil
}

// skip reads one JSON value of any kind at depth containers deep, without keeping it.
func (w *wire) skip(depth int) error {
	var open [32]byte
	stack := open[:0] // '{' or '[' of each container entered here
	for {
		// A value starts here.
		w.space()
		if w.i >= len(w.s) {
			return errEnd
		}
		closed := false
		switch c := w.s[w.i]; c {
		case '{', '[':
			if depth+len(stack)+1 > maxDepth {
				return errDepth
			}
			w.i++
			stack = append(stack, c)
			w.space()
			if w.more(c + 2) { // '}' and ']' are '{' and '[' plus 2
				w.i++
				stack = stack[:len(stack)-1]
				closed = true
			} else if c == '{' {
				if err := w.key(); err != nil {
					return err
				}
			}
			if !closed {
				continue
			}
		case '"':
			if _, err := w.str(); err != nil {
				return err
			}
		case 't':
			if err := w.literal("true"); err != nil {
				return err
			}
		case 'f':
			if err := w.literal("false"); err != nil {
				return err
			}
		case 'n':
			if err := w.literal("null"); err != nil {
				return err
			}
		default:
			if err := w.number(); err != nil {
				return err
			}
		}
		// A value ended: close containers until one has a next element.
		for {
			if len(stack) == 0 {
				return nil
			}
			w.space()
			if w.i >= len(w.s) {
				return errEnd
			}
			top := stack[len(stack)-1]
			c := w.s[w.i]
			if c == top+2 {
				w.i++
				stack = stack[:len(stack)-1]
				continue
			}
			if c != ',' {
				return w.syntax("after a value in a container")
			}
			w.i++
			if top == '{' {
				w.space()
				if err := w.key(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// key reads an object key and its colon.
func (w *wire) key() error {
	if _, err := w.str(); err != nil {
		return err
	}
	return w.colon()
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// u4 reads the \uXXXX escape at the start of s, or returns -1.
func u4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for i := 2; i < 6; i++ {
		h := hexVal(s[i])
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

// appendUnquoted appends the value of a checked JSON string's raw text as
// encoding/json decodes it: a lone surrogate or a byte that is not UTF-8 becomes
// U+FFFD.
func appendUnquoted(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); {
		if j := escapeRun(raw, i); j > i {
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		if c := raw[i]; c != '\\' {
			r, size := utf8.DecodeRuneInString(raw[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
			continue
		}
		dst, i = appendEscape(dst, raw, i)
	}
	return dst
}

// appendEscape appends the value of the checked escape that starts at s[i] (a
// backslash) and returns the index after it. A \u escape of a surrogate takes the
// next escape with it when the two form a pair; otherwise it stands for U+FFFD and
// the next escape is read on its own.
func appendEscape(dst []byte, s string, i int) ([]byte, int) {
	switch e := s[i+1]; e {
	case 'b':
		dst = append(dst, '\b')
	case 'f':
		dst = append(dst, '\f')
	case 'n':
		dst = append(dst, '\n')
	case 'r':
		dst = append(dst, '\r')
	case 't':
		dst = append(dst, '\t')
	case 'u':
		r := u4(s[i:])
		i += 6
		if utf16.IsSurrogate(r) {
			if dec := utf16.DecodeRune(r, u4(s[i:])); dec != unicode.ReplacementChar {
				return utf8.AppendRune(dst, dec), i + 6
			}
			r = unicode.ReplacementChar
		}
		return utf8.AppendRune(dst, r), i
	default: // '"', '\\', '/'
		dst = append(dst, e)
	}
	return dst, i + 2
}

// htmlSafe marks the ASCII bytes encoding/json writes as they are: printable, and
// none of '"', '\\', '<', '>', '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly as encoding/json escapes
// it (HTML characters, U+2028 and U+2029 included; bytes that are not UTF-8 become
// \ufffd).
func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A few bytes as a string: no copy for a string, a stack copy for bytes.
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendHeaders appends h as a JSON object, names in byte order.
func appendHeaders(dst []byte, h map[string]string) []byte {
	var buf [16]string
	names := buf[:0]
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, k := range names {
		if i == 0 {
			dst = append(dst, '{')
		} else {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, h[k])
	}
	return append(dst, '}')
}

// appendTime appends t as time.Time's MarshalJSON does, without the quotes.
func appendTime(dst []byte, t time.Time) ([]byte, error) {
	return t.AppendText(dst)
}

// encodedLenHint is about the encoded size of e, so that encoding grows its buffer
// once: a JSON body gains one escape for every few bytes.
func encodedLenHint(e *Envelope) int {
	n := 128 + len(e.Source) + len(e.ID) + len(e.Type) + len(e.Body) + len(e.Body)/4
	for k, v := range e.Headers {
		n += len(k) + len(v) + 8
	}
	return n
}

// grow makes room for n more bytes in dst.
func grow(dst []byte, n int) []byte {
	return slices.Grow(dst, n)
}
