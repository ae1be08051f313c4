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
// does: the first field into NFT_REG_1, the next ones into NFT_REG32_xx
// (8 + the field's offset in 4-byte words); the lookup reads the whole
// key from NFT_REG_1.

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
	}
	return 1 // inet_proto, icmp types
}

// padded is n rounded up to the register word.
func padded(n uint32) uint32 { return (n + 3) &^ 3 }

// fieldRegs is the register each field is loaded into.
func fieldRegs(fields []ruleset.KeyField) []uint32 {
	out := make([]uint32, len(fields))
	var off uint32
	for i, f := range fields {
		out[i] = reg32Base + off/4
		if off == 0 {
			out[i] = reg
		}
		off += padded(fieldLen(f.Kind))
	}
	return out
}

// fieldsLookup loads every field of map name's key, masks address fields
// that have a mask, and looks the key up as a verdict map.
func fieldsLookup(name string, si setInfo) ([]expr.Any, error) {
	var out []expr.Any
	regs := fieldRegs(si.fields)
	for i, f := range si.fields {
		r := regs[i]
		switch f.Kind {
		case ruleset.KindProto:
			out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r})
			continue
		}
		p, ok := payloadOf(f.Kind)
		if !ok {
			return nil, fmt.Errorf("vmap: map %q: key field %s cannot be loaded", name, f.Kind)
		}
		p.DestRegister = r
		out = append(out, p)
		if f.Mask > 0 {
			mask := ruleset.MaskAddr(f.Kind == ruleset.KindIPv6, f.Mask).AsSlice()
			out = append(out, &expr.Bitwise{SourceRegister: r, DestRegister: r, Len: p.Len,
				Mask: mask, Xor: make([]byte, len(mask))})
		}
	}
	return append(out, &expr.Lookup{SourceRegister: reg, DestRegister: 0, IsDestRegSet: true, SetName: name, SetID: si.id}), nil
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
	s := &nftables.Set{Table: table(), Name: m.Name, Interval: m.Interval, IsMap: true,
		DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.BigEndian, KeyType: types[0]}
	if len(types) > 1 {
		t, err := nftables.ConcatSetType(types...)
		if err != nil {
			return nil, fmt.Errorf("map %s: %w", m.Name, err)
		}
		s.KeyType, s.Concatenation = t, true
	}
	return s, nil
}

// fieldType is the nft data type of a key field kind.
func fieldType(k ruleset.SetKind) (nftables.SetDatatype, bool) {
	if k == ruleset.KindProto {
		return nftables.TypeInetProto, true
	}
	return setType(k)
}

// fieldsElements encodes a fields map's entries: one padded key per entry
// (hash), or intervals of the one address field (rbtree).
func fieldsElements(m *ruleset.Map) []nftables.SetElement {
	if m.Interval {
		ivs := make([]interval, len(m.Entries))
		for i, e := range m.Entries {
			ivs[i] = prefixInterval(e.Values[0].Prefix)
			ivs[i].chain = e.Chain
		}
		return elements(ivs, int(fieldLen(m.Fields[0].Kind)))
	}
	var n uint32
	for _, f := range m.Fields {
		n += padded(fieldLen(f.Kind))
	}
	keys := newKeys(int(n), len(m.Entries))
	jumps := jumpVerdicts{}
	out := make([]nftables.SetElement, 0, len(m.Entries))
	for _, e := range m.Entries {
		k := keys.next()
		putFields(k, m.Fields, e.Values)
		out = append(out, nftables.SetElement{Key: k, VerdictData: jumps.to(e.Chain)})
	}
	return out
}

// putFields writes values into key, each field big-endian at the start of
// its padded slot.
func putFields(key []byte, fields []ruleset.KeyField, values []ruleset.KeyValue) {
	var off uint32
	for i, f := range fields {
		l := fieldLen(f.Kind)
		if f.Kind.IsAddr() {
			copy(key[off:off+l], values[i].Prefix.Addr().AsSlice())
		} else {
			putUintTo(key[off:off+l], uint64(values[i].Lo))
		}
		off += padded(l)
	}
}
