package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// digest is one HMAC-SHA256 value.
type digest = [sha256.Size]byte

// keyring holds a source's HMAC keys and a pool of hash states keyed by them, so a
// verification allocates no hash: each pooled state keeps one HMAC per key, which
// Reset brings back to its keyed start.
type keyring struct {
	keys [][]byte
	pool sync.Pool // *macState
}

type macState struct {
	h   []hash.Hash // h[i] is keyed by keys[i], created on first use
	buf [64]byte    // staging for string parts, which hash.Hash cannot take directly
}

func newKeyring(keys [][]byte) *keyring {
	k := &keyring{keys: keys}
	k.pool.New = func() any { return &macState{h: make([]hash.Hash, len(keys))} }
	return k
}

func (k *keyring) get() *macState  { return k.pool.Get().(*macState) }
func (k *keyring) put(m *macState) { k.pool.Put(m) }

// mac returns HMAC-SHA256 with key i over the non-empty parts, in order, then body.
func (k *keyring) mac(m *macState, i int, parts [4]string, body []byte) digest {
	h := m.h[i]
	if h == nil {
		h = hmac.New(sha256.New, k.keys[i])
		m.h[i] = h
	} else {
		h.Reset()
	}
	for _, p := range parts {
		for len(p) > 0 {
			n := copy(m.buf[:], p)
			h.Write(m.buf[:n])
			p = p[n:]
		}
	}
	h.Write(body)
	var d digest
	h.Sum(m.buf[:0])
	copy(d[:], m.buf[:sha256.Size])
	return d
}

// equal compares two digests in constant time.
func equal(a, b *digest) bool { return hmac.Equal(a[:], b[:]) }

// hexVal maps a byte to its hex digit value, or 0xff when it is not one.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c - 'A' + 10)
	}
	return t
}()

// decodeHexDigest decodes 64 hex digits (either case).
func decodeHexDigest(s string) (d digest, ok bool) {
	if len(s) != 2*len(d) {
		return d, false
	}
	for i := range d {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		if hi|lo > 0xf {
			return d, false
		}
		d[i] = hi<<4 | lo
	}
	return d, true
}

const hexDigits = "0123456789abcdef"

// appendHex appends d as lower-case hex.
func appendHex(dst []byte, d *digest) []byte {
	for _, c := range d {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// b64Val maps a byte to its standard base64 value, or 0xff.
var b64Val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(b64Alphabet); i++ {
		t[b64Alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase64Digest decodes the standard base64 of a digest: 44 characters ending
// in one "=", or the same 43 without padding. Non-zero trailing bits are refused, so
// each digest has exactly one accepted spelling per padding choice.
func decodeBase64Digest(s string) (d digest, ok bool) {
	if len(s) == 44 {
		if s[43] != '=' {
			return d, false
		}
		s = s[:43]
	}
	if len(s) != 43 {
		return d, false
	}
	// 10 groups of 4 characters give 30 bytes; the last 3 characters give 2 more.
	for g := 0; g < 10; g++ {
		a, b, c, e := b64Val[s[4*g]], b64Val[s[4*g+1]], b64Val[s[4*g+2]], b64Val[s[4*g+3]]
		if a|b|c|e > 63 {
			return d, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(e)
		d[3*g], d[3*g+1], d[3*g+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	a, b, c := b64Val[s[40]], b64Val[s[41]], b64Val[s[42]]
	if a|b|c > 63 || c&0x3 != 0 {
		return d, false
	}
	v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
	d[30], d[31] = byte(v>>16), byte(v>>8)
	return d, true
}

// appendBase64 appends d as padded standard base64.
func appendBase64(dst []byte, d *digest) []byte {
	for g := 0; g < 10; g++ {
		v := uint32(d[3*g])<<16 | uint32(d[3*g+1])<<8 | uint32(d[3*g+2])
		dst = append(dst, b64Alphabet[v>>18], b64Alphabet[v>>12&63], b64Alphabet[v>>6&63], b64Alphabet[v&63])
	}
	v := uint32(d[30])<<16 | uint32(d[31])<<8
	return append(dst, b64Alphabet[v>>18], b64Alphabet[v>>12&63], b64Alphabet[v>>6&63], '=')
}
