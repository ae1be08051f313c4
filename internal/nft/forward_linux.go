package nft

import (
	"bytes"
	"fmt"
	"net"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// The encodings of forwarded traffic's keys and matches (ruleset/forward.go),
// exactly as nft 1.0.6 writes them:
//
//	ip saddr vmap @M       payload load 4b @ network header + 12 (ip6: 16b @ + 8)
//	ether saddr vmap @M    meta load iiftype; cmp eq 1 (ARPHRD_ETHER);
//	                       payload load 6b @ link header + 6
//	iifname vmap @M        meta load iifname (16 bytes, NUL-padded)
//	oifname "wg0"          meta load oifname; cmp eq "wg0" and NULs (16 bytes)
//	oifname "wg*"          meta load oifname; cmp eq "wg" (the prefix only)

// arphrdEther is ARPHRD_ETHER, the `meta iiftype` of Ethernet devices.
const arphrdEther = 1

// sourcePayload is the load of an address field with Source: ip saddr or
// ip6 saddr.
func sourcePayload(k ruleset.SetKind, r uint32) *expr.Payload {
	p := &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: r, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	if k == ruleset.KindIPv6 {
		p.Offset, p.Len = 8, 16
	}
	return p
}

// etherSaddr is `ether saddr` into register r, after nft's dependency
// `meta iiftype ether`.
func etherSaddr(r uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: r},
		&expr.Cmp{Op: expr.CmpOpEq, Register: r, Data: binaryutil.NativeEndian.PutUint16(arphrdEther)},
		&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: r, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
	}
}

// matchOifname is `oifname "NAME"` (the whole 16 bytes) or `oifname
// "PREFIX*"` (the prefix's bytes only).
func matchOifname(name string) []expr.Any {
	prefix, pattern := ruleset.IfnamePattern(name)
	data := []byte(prefix)
	if !pattern {
		data = make([]byte, ruleset.IfnameSize)
		copy(data, prefix)
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data},
	}
}

// oifnameOf is the name or pattern a `cmp eq` of oifname compares with
// (re-encoding confirms it).
func oifnameOf(data []byte) string {
	if len(data) == ruleset.IfnameSize {
		return string(bytes.TrimRight(data, "\x00"))
	}
	return string(data) + "*"
}

// ifnameInterval is the interval of a name or pattern in an iifname map.
func ifnameInterval(s string) interval {
	lo, hi := ruleset.IfnameBounds(s)
	return interval{start: lo[:], end: hi[:]}
}

// ifnameOfInterval is the inverse of ifnameInterval.
func ifnameOfInterval(iv interval) (string, error) {
	name := string(bytes.TrimRight(iv.start, "\x00"))
	for _, s := range []string{name, name + "*"} {
		if ruleset.ValidIfname(s, true) != nil {
			continue
		}
		if want := ifnameInterval(s); bytes.Equal(want.start, iv.start) && bytes.Equal(want.end, iv.end) {
			return s, nil
		}
	}
	return "", fmt.Errorf("interval %x-%x is not an interface name or pattern", iv.start, iv.end)
}

// putText writes an ether_addr or ifname value into its key slot.
func putText(slot []byte, k ruleset.SetKind, text string) {
	if k == ruleset.KindEther {
		hw, _ := net.ParseMAC(text) // validated
		copy(slot, hw)
		return
	}
	copy(slot, text)
}

// getText reads an ether_addr or ifname value back from its key slot.
func getText(slot []byte, k ruleset.SetKind) (string, error) {
	if k == ruleset.KindEther {
		return net.HardwareAddr(slot).String(), nil
	}
	s := string(bytes.TrimRight(slot, "\x00"))
	if err := ruleset.ValidIfname(s, false); err != nil {
		return "", err
	}
	return s, nil
}

// learnSource marks a one-field address map as keyed by the source
// address when a rule looks it up with `ip saddr`/`ip6 saddr` (the kernel
// stores which address in the rule, not the map), like learnMasks.
func learnSource(m *ruleset.Map, ex []expr.Any) {
	if m == nil || len(m.Fields) != 1 || !m.Fields[0].Kind.IsAddr() {
		return
	}
	for _, e := range ex {
		if p, ok := e.(*expr.Payload); ok && p.Base == expr.PayloadBaseNetworkHeader {
			m.Fields[0].Source = p.Offset == sourcePayload(m.Fields[0].Kind, reg).Offset
			return
		}
	}
}

// isTextKind: the field's values are KeyValue.Text.
func isTextKind(k ruleset.SetKind) bool { return k == ruleset.KindEther || k == ruleset.KindIfname }
