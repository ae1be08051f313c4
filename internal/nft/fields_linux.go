package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Maps keyed by fields (ruleset.Map.Fields): `ip daddr & MASK . meta
// l4proto . th dport vmap @M`. Each field is loaded into the 32-bit
// registers after the previous one and padded to 4 bytes, as nft 1.0.6
// does and the kernel dumps it: a field at a 16-byte boundary into NFT_REG_x
// (1 + offset/16), the others into NFT_REG32_xx (8 + offset/4); the lookup
// reads the whole key from NFT_REG_1. An address field needs its family:
// unless the rule's matches establish it, `meta nfproto` is checked right
// before the loads, after the counter, where nft puts it.

// reg32Base is NFT_REG32_00, the 32-bit name of the first word of NFT_REG_1.
const reg32Base = 8

// fieldLen is the key length of a field kind before padding.
func fieldLen(k ruleset.SetKind) uint32 {
	switch k {
	case ruleset.KindIPv6:
		return 16
	case ruleset.KindIPv4, ruleset.KindUID, ruleset.KindGID:
		return 4
	case ruleset.KindPort:
		return 2
	case ruleset.KindEther:
		return 6
	case ruleset.KindIfname:
		return ruleset.IfnameSize
	}
	return 1 // inet_proto, icmp types
}

// padded is n rounded up to the register word.
func padded(n uint32) uint32 { return (n + 3) &^ 3 }

// slotLen is the bytes a field takes in the key of a map with fields:
// padded to the register word in a concatenation, as is otherwise.
func slotLen(fields []ruleset.KeyField, i int) uint32 {
	if len(fields) == 1 {
		return fieldLen(fields[i].Kind)
	}
	return padded(fieldLen(fields[i].Kind))
}

// keyLenOf is the key length of a map with fields.
func keyLenOf(fields []ruleset.KeyField) uint32 {
	var n uint32
	for i := range fields {
		n += slotLen(fields, i)
	}
	return n
}

// fieldRegs is the register each field is loaded into.
func fieldRegs(fields []ruleset.KeyField) []uint32 {
	out := make([]uint32, len(fields))
	var off uint32
	for i, f := range fields {
		out[i] = reg32Base + off/4
		if off%16 == 0 {
			out[i] = reg + off/16 // the kernel dumps 16-byte aligned registers by their 16-byte name
		}
		off += padded(fieldLen(f.Kind))
	}
	return out
}

// fieldsLookup loads every field of map name's key, masks address fields
// that have a mask, and looks the key up as a verdict map.
func fieldsLookup(name string, si setInfo, family uint32) ([]expr.Any, error) {
	var out []expr.Any
	if f := fieldsFamily(si.fields); f != 0 && family != f {
		out = append(out, matchFamily(f)...)
	}
	regs := fieldRegs(si.fields)
	for i, f := range si.fields {
		r := regs[i]
		switch f.Kind {
		case ruleset.KindProto:
			out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r})
			continue
		case ruleset.KindEther:
			out = append(out, etherSaddr(r)...)
			continue
		case ruleset.KindIfname:
			out = append(out, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: r})
			continue
		}
		p, ok := payloadOf(f.Kind)
		if !ok {
			return nil, fmt.Errorf("vmap: map %q: key field %s cannot be loaded", name, f.Kind)
		}
		p.DestRegister = r
		if f.Source {
			p = sourcePayload(f.Kind, r)
		}
		out = append(out, p)
		if f.Mask > 0 {
			mask := ruleset.MaskAddr(f.Kind == ruleset.KindIPv6, f.Mask).AsSlice()
			out = append(out, &expr.Bitwise{SourceRegister: r, DestRegister: r, Len: p.Len,
				Mask: mask, Xor: make([]byte, len(mask))})
		}
	}
	return append(out, &expr.Lookup{SourceRegister: reg, DestRegister: 0, IsDestRegSet: true, SetName: name, SetID: si.id}), nil
}

// fieldsFamily is the family an address field of the key needs (0: none).
func fieldsFamily(fields []ruleset.KeyField) uint32 {
	for _, f := range fields {
		switch f.Kind {
		case ruleset.KindIPv4:
			return 4
		case ruleset.KindIPv6:
			return 6
		}
	}
	return 0
}

// newFieldsMap is `map NAME { type F1 . F2 ... : verdict; [flags interval;] }`.
// Every field kind is big-endian.
func newFieldsMap(m *ruleset.Map) (*nftables.Set, error) {
	types := make([]nftables.SetDatatype, len(m.Fields))
	for i, f := range m.Fields {
		t, ok := fieldType(f.Kind)
		if !ok {
			return nil, fmt.Errorf("map %s: unsupported key field %q", m.Name, f.Kind)
		}
		types[i] = t
	}
	s := &nftables.Set{Table: table(), Name: m.Name, Interval: m.Interval, IsMap: true, Counter: m.Counters,
		DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.BigEndian, KeyType: types[0]}
	if m.Fields[0].Kind == ruleset.KindIfname && !m.Interval {
		// nft's ifname is a host-endian string type: a hash map says so
		// (an interval map is big-endian like every interval set).
		s.KeyByteOrder = binaryutil.NativeEndian
	}
	if len(types) > 1 {
		t, err := nftables.ConcatSetType(types...)
		if err != nil {
			return nil, fmt.Errorf("map %s: %w", m.Name, err)
		}
		// nft 1.0.6 sets NFT_SET_CONCAT (and the field lengths) only for
		// interval concatenations (pipapo); a hash needs neither.
		s.KeyType = t
	}
	return s, nil
}

// fieldType is the nft data type of a key field kind.
func fieldType(k ruleset.SetKind) (nftables.SetDatatype, bool) {
	switch k {
	case ruleset.KindProto:
		return nftables.TypeInetProto, true
	case ruleset.KindEther:
		return nftables.TypeEtherAddr, true
	case ruleset.KindIfname:
		return nftables.TypeIFName, true
	}
	return setType(k)
}

// fieldsElements encodes a fields map's entries: one padded key per entry
// (hash), or intervals of the one address field (rbtree).
func fieldsElements(m *ruleset.Map) []nftables.SetElement {
	if m.Interval {
		ivs := make([]interval, len(m.Entries))
		for i, e := range m.Entries {
			if m.Fields[0].Kind == ruleset.KindIfname {
				ivs[i] = ifnameInterval(e.Values[0].Text)
				ivs[i].elemData = dataOf(e)
				continue
			}
			ivs[i] = prefixInterval(e.Values[0].Prefix)
			ivs[i].elemData = dataOf(e)
		}
		return elements(ivs, int(fieldLen(m.Fields[0].Kind)))
	}
	keys := newKeys(int(keyLenOf(m.Fields)), len(m.Entries))
	jumps := jumpVerdicts{}
	out := make([]nftables.SetElement, 0, len(m.Entries))
	for _, e := range m.Entries {
		k := keys.next()
		putFields(k, m.Fields, e.Values)
		el := nftables.SetElement{Key: k}
		dataOf(e).put(&el, jumps)
		out = append(out, el)
	}
	return out
}

// putFields writes values into key, each field big-endian at the start of
// its padded slot.
func putFields(key []byte, fields []ruleset.KeyField, values []ruleset.KeyValue) {
	var off uint32
	for i, f := range fields {
		l := fieldLen(f.Kind)
		switch {
		case isTextKind(f.Kind):
			putText(key[off:off+l], f.Kind, values[i].Text)
		case f.Kind.IsAddr():
			copy(key[off:off+l], values[i].Prefix.Addr().AsSlice())
		default:
			putUintTo(key[off:off+l], uint64(values[i].Lo))
		}
		off += slotLen(fields, i)
	}
}
