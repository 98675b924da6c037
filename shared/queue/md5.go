package queue

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
)

// BodyMD5 is the hex MD5 of a message body, as SQS reports it (MD5OfBody).
func BodyMD5(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// AttributesMD5 is the hex MD5 SQS reports for String message attributes
// (MD5OfMessageAttributes); empty when there are none. For each attribute in byte
// order of its name: the name, the data type "String", the transport byte 1 and the
// value, each string preceded by its length as a 4-byte big-endian integer.
func AttributesMD5(attrs map[string]string) string {
	if len(attrs) == 0 {
		return ""
	}
	var buf []byte
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		buf = appendLenPrefixed(buf, k)
		buf = appendLenPrefixed(buf, "String")
		buf = append(buf, 1)
		buf = appendLenPrefixed(buf, attrs[k])
	}
	sum := md5.Sum(buf)
	return hex.EncodeToString(sum[:])
}

func appendLenPrefixed(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
