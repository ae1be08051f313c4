package ruleset

import (
	"encoding/json"
	"net/netip"
)

// The JSON of map entries, decoded fast. A stored generation holds one
// entry per rule destination and port (200,000 for 200 policies of 1,000
// rules), and encoding/json's reflection spends most of a restore's
// decoding on them. UnmarshalJSON reads the form json.Marshal writes
// itself and hands anything else to encoding/json, so the bytes, the
// result and the errors stay encoding/json's; only the speed differs.

// UnmarshalJSON decodes e as encoding/json does (the encoding is
// encoding/json's own: there is no MarshalJSON). The form leash writes (the keys of MapEntry and KeyValue in lower case, numbers in
// decimal, strings without escapes or non-ASCII bytes, no null) into a
// zero entry is read by entryDecoder; everything else by encoding/json.
func (e *MapEntry) UnmarshalJSON(b []byte) error {
	if e.isZero() {
		d := entryDecoder{b: b}
		if out, ok := d.entry(); ok && d.i == len(b) {
			*e = out
			return nil
		}
	}
	type plain MapEntry // the same fields, without this method
	return json.Unmarshal(b, (*plain)(e))
}

// isZero reports whether e is the zero entry (what a decoded slice
// element starts as).
func (e *MapEntry) isZero() bool {
	return e.Range == (Range{}) && e.Values == nil && e.Chain == "" && e.Verdict == "" && e.Rule == "" && e.Packets == 0 && e.Bytes == 0
}

// entryDecoder reads one JSON map entry from b; every method returns false
// on anything outside the form it reads.
type entryDecoder struct {
	b []byte
	i int
}

// entry reads {"key":value,...} with MapEntry's keys.
func (d *entryDecoder) entry() (MapEntry, bool) {
	var e MapEntry
	ok := d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "lo":
			e.Lo, ok = d.uint32()
		case "hi":
			e.Hi, ok = d.uint32()
		case "values":
			e.Values, ok = d.values()
		case "chain":
			e.Chain, ok = d.string()
		case "verdict":
			var v string
			v, ok = d.string()
			e.Verdict = VerdictKind(v)
		case "rule":
			e.Rule, ok = d.string()
		case "packets":
			e.Packets, ok = d.uint64()
		case "bytes":
			e.Bytes, ok = d.uint64()
		}
		return ok
	})
	return e, ok
}

// values reads a list of KeyValue objects.
func (d *entryDecoder) values() ([]KeyValue, bool) {
	if !d.byte('[') {
		return nil, false
	}
	out := []KeyValue{}
	if d.byte(']') {
		return out, true
	}
	for {
		var v KeyValue
		ok := d.object(func(key []byte) bool {
			var ok bool
			switch string(key) {
			case "prefix":
				var s []byte
				if s, ok = d.raw(); ok && len(s) > 0 { // "" is the zero prefix, as UnmarshalText has it
					p, err := netip.ParsePrefix(string(s))
					v.Prefix, ok = p, err == nil
				}
			case "lo":
				v.Lo, ok = d.uint32()
			case "hi":
				v.Hi, ok = d.uint32()
			case "text":
				v.Text, ok = d.string()
			}
			return ok
		})
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if d.byte(']') {
			return out, true
		}
		if !d.byte(',') {
			return nil, false
		}
	}
}

// object reads {"key":value,...}, calling field for each key with the
// decoder at its value; field returns false for an unknown key or a bad
// value.
func (d *entryDecoder) object(field func(key []byte) bool) bool {
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return true
	}
	for {
		key, ok := d.raw()
		if !ok || !d.byte(':') || !field(key) {
			return false
		}
		if d.byte('}') {
			return true
		}
		if !d.byte(',') {
			return false
		}
	}
}

// byte consumes c if it is next.
func (d *entryDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// string reads a string of printable ASCII without escapes.
func (d *entryDecoder) string() (string, bool) {
	b, ok := d.raw()
	return string(b), ok
}

// raw reads a string of printable ASCII without escapes and returns its
// bytes (of d.b).
func (d *entryDecoder) raw() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	for j := d.i; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[d.i:j]
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// uint reads a JSON number that is an integer from 0 to max.
func (d *entryDecoder) uint(max uint64) (uint64, bool) {
	j, n := d.i, uint64(0)
	for ; j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9'; j++ {
		digit := uint64(d.b[j] - '0')
		if n > (max-digit)/10 {
			return 0, false // out of range: encoding/json says so
		}
		n = n*10 + digit
	}
	if j == d.i || (d.b[d.i] == '0' && j > d.i+1) {
		return 0, false // no digits, or a leading zero (not JSON)
	}
	if j < len(d.b) {
		switch d.b[j] {
		case '.', 'e', 'E':
			return 0, false // a fraction or an exponent: encoding/json decides
		}
	}
	d.i = j
	return n, true
}

// uint32 reads a number into a uint32.
func (d *entryDecoder) uint32() (uint32, bool) {
	n, ok := d.uint(1<<32 - 1)
	return uint32(n), ok
}

// uint64 reads a number into a uint64.
func (d *entryDecoder) uint64() (uint64, bool) {
	return d.uint(1<<64 - 1)
}
