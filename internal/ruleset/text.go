package ruleset

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/leash-dev/leash/internal/termtext"
)

// TextOptions tune Text.
type TextOptions struct {
	// Counters prints `counter packets N bytes M` instead of a bare `counter`.
	Counters bool
	// Sources prints a `# FILE:LINE: source` comment above every rule that came
	// from the policy text. nft -f accepts and ignores these lines.
	Sources bool
}

// Text renders rs as `nft -f` input that creates `table inet leash`.
// The output is deterministic: it is used for golden files and for diffs.
func Text(rs *Ruleset, opt TextOptions) string {
	var b strings.Builder
	ix := NewIndex(rs)
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	for _, s := range rs.Sets {
		writeSet(&b, s)
	}
	for _, m := range rs.Maps {
		writeMap(&b, m, opt)
	}
	for i, c := range rs.Chains {
		if i > 0 || len(rs.Sets)+len(rs.Maps) > 0 {
			b.WriteString("\n")
		}
		writeChain(&b, ix, c, opt)
	}
	b.WriteString("}\n")
	return b.String()
}

func writeSet(b *strings.Builder, s *Set) {
	if s.Live != nil {
		writeLiveSet(b, s)
		return
	}
	if s.Meter != nil {
		fmt.Fprintf(b, "\tset %s {\n%s\t}\n", termtext.Field(s.Name), meterSetText(s))
		return
	}
	if s.Kind == KindTime {
		fmt.Fprintf(b, "\tset %s {\n\t\ttypeof meta time\n%s", termtext.Field(s.Name), flagsText(s.Interval))
	} else {
		fmt.Fprintf(b, "\tset %s {\n\t\ttype %s\n%s", termtext.Field(s.Name), s.Kind, flagsText(s.Interval))
	}
	var elems []string
	for _, p := range s.Prefixes {
		if s.Interval {
			elems = append(elems, p.String())
		} else {
			elems = append(elems, p.Addr().String())
		}
	}
	for _, r := range s.Ranges {
		elems = append(elems, r.String())
	}
	for _, r := range s.Times {
		elems = append(elems, r.String())
	}
	writeElements(b, elems, 4)
	b.WriteString("\t}\n")
}

func writeMap(b *strings.Builder, m *Map, opt TextOptions) {
	fmt.Fprintf(b, "\tmap %s {\n\t\ttype %s : verdict\n%s", termtext.Field(m.Name), keyTypeText(m), flagsText(m.Interval))
	if m.Counters {
		b.WriteString("\t\tcounter\n")
	}
	if opt.Sources {
		for _, o := range m.Origins {
			if o.Text != "" {
				fmt.Fprintf(b, "\t\t# %s %s\n", termtext.Escape(o.ID), sourceComment(o))
			}
		}
	}
	elems := make([]string, 0, len(m.Entries))
	for _, e := range m.Entries {
		elems = append(elems, entryText(m, e, opt.Counters))
	}
	perLine := 4
	if len(m.Fields) > 1 {
		perLine = 2 // concatenated keys are long
	}
	writeElements(b, elems, perLine)
	b.WriteString("\t}\n")
}

func flagsText(interval bool) string {
	if interval {
		return "\t\tflags interval\n"
	}
	return ""
}

// writeElements prints an elements block, a few per line, or nothing for an
// empty set (nft -f rejects `elements = { }`).
func writeElements(b *strings.Builder, elems []string, perLine int) {
	if len(elems) == 0 {
		return
	}
	b.WriteString("\t\telements = { ")
	for i, e := range elems {
		if i > 0 {
			b.WriteString(",")
			if i%perLine == 0 {
				b.WriteString("\n\t\t\t     ")
			} else {
				b.WriteString(" ")
			}
		}
		b.WriteString(e)
	}
	b.WriteString(" }\n")
}

func writeChain(b *strings.Builder, rs Lookup, c *Chain, opt TextOptions) {
	fmt.Fprintf(b, "\tchain %s {\n", termtext.Field(c.Name))
	if c.Hook != nil {
		fmt.Fprintf(b, "\t\ttype filter hook %s priority %s; policy accept;\n", c.Hook.Hook, priorityText(c.Hook.Priority))
	}
	for _, r := range c.Rules {
		if opt.Sources && r.Origin.Text != "" {
			fmt.Fprintf(b, "\t\t# %s\n", sourceComment(r.Origin))
		}
		fmt.Fprintf(b, "\t\t%s\n", RuleText(rs, r, opt.Counters))
	}
	b.WriteString("\t}\n")
}

// sourceComment is the `# FILE:LINE: source` comment of a rule, escaped
// (termtext.Escape): a policy path or a name read back from the kernel
// cannot end the comment line and inject nft commands or terminal controls.
func sourceComment(o Origin) string {
	if w := o.Where(); w != "" {
		return termtext.Escape(w + ": " + o.Text)
	}
	return termtext.Escape(o.Text)
}

func priorityText(p int32) string {
	switch {
	case p == 0:
		return "filter"
	case p > 0:
		return fmt.Sprintf("filter + %d", p)
	default:
		return fmt.Sprintf("filter - %d", -p)
	}
}

// RuleText renders one rule in nft syntax, e.g.
// `meta nfproto ipv4 ip daddr @s1 meta l4proto tcp th dport @s2 counter accept comment "web/r1"`.
func RuleText(rs Lookup, r *Rule, counters bool) string {
	var parts []string
	for _, m := range r.Match {
		parts = append(parts, MatchText(rs, m))
	}
	if r.Verdict.Kind == Log && r.Verdict.Log != nil {
		parts = append(parts, limitText(r.Verdict.Log))
	}
	parts = append(parts, counterText(r, counters))
	if r.Verdict.Kind == VMap {
		parts = append(parts, vmapText(rs, r.Verdict))
	} else {
		parts = append(parts, VerdictText(r.Verdict))
	}
	if r.Origin.ID != "" {
		parts = append(parts, fmt.Sprintf("comment %q", r.Origin.ID))
	}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

func counterText(r *Rule, counters bool) string {
	if counters {
		return fmt.Sprintf("counter packets %d bytes %d", r.Packets, r.Bytes)
	}
	return "counter"
}

// vmapText is `KEY vmap @MAP`, the key as the map's fields name it.
func vmapText(rs Lookup, v Verdict) string {
	if s := rs.Set(v.Map); s != nil && s.Live != nil && s.Live.Verdicts {
		return liveMapText(v)
	}
	key := "meta skuid"
	if m := rs.Map(v.Map); m != nil {
		key = KeyText(m)
	}
	return fmt.Sprintf("%s vmap @%s", key, v.Map)
}

// MatchText renders one match in nft syntax.
func MatchText(rs Lookup, m Match) string {
	switch m.Kind {
	case MatchFamily:
		if m.Value == 6 {
			return "meta nfproto ipv6"
		}
		return "meta nfproto ipv4"
	case MatchOwned:
		return "meta skuid >= 0"
	case MatchLoopback:
		return `oif "lo"`
	case MatchCtReply:
		return "ct direction reply"
	case MatchCtEstablished:
		return "ct state established,related"
	case MatchL4Proto:
		return "meta l4proto " + ProtoName(uint8(m.Value))
	case MatchMark:
		return fmt.Sprintf("meta mark 0x%08x", m.Value)
	case MatchDaddr:
		s := rs.Set(m.Set)
		v6 := s != nil && s.Kind == KindIPv6
		text := "ip daddr "
		if v6 {
			text = "ip6 daddr "
		}
		if m.Mask > 0 {
			text += "& " + MaskAddr(v6, m.Mask).String() + " "
		}
		return text + "@" + m.Set
	case MatchDport:
		return "th dport @" + m.Set
	case MatchICMPType:
		if s := rs.Set(m.Set); s != nil && s.Kind == KindICMPv6 {
			return "icmpv6 type @" + m.Set
		}
		return "icmp type @" + m.Set
	case MatchRoutingHeader:
		return "exthdr rt exists"
	case MatchSourceRoute:
		if m.Value == OptSSRR {
			return "ip option ssrr exists"
		}
		return "ip option lsrr exists"
	case MatchOifname:
		return oifnameText(m.Name)
	case MatchCgroup:
		return cgroupMatchText(m)
	case MatchTime:
		return "meta time @" + m.Set
	case MatchCtNew:
		return "ct state new"
	case MatchCtMark:
		return ctMarkText(m)
	case MatchMPTCPJoin:
		return fmt.Sprintf("tcp option mptcp subtype %d", MPTCPSubtypeJoin)
	case MatchMeter:
		return meterText(rs, m)
	case MatchLimit:
		if l := m.Limit; l != nil {
			return fmt.Sprintf("limit rate %d/%s burst %d packets", l.Rate, l.Unit, l.Burst)
		}
	}
	return fmt.Sprintf("# unknown match %q", m.Kind)
}

// MaskAddr is the netmask of a prefix length: 255.255.255.240 for 28, or
// ffff:ffff:ffff:ffff:: for 64 when v6.
func MaskAddr(v6 bool, bits uint8) netip.Addr {
	n := 4
	if v6 {
		n = 16
	}
	b := make([]byte, n)
	for i := 0; i < int(bits) && i < n*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// VerdictText renders a non-vmap verdict in nft syntax.
func VerdictText(v Verdict) string {
	switch v.Kind {
	case RejectTCPRST:
		return "reject with tcp reset"
	case RejectAdmin:
		return "reject with icmpx admin-prohibited"
	case Jump, Goto:
		return string(v.Kind) + " " + v.Chain
	case Continue:
		return ""
	case CtMarkSet:
		return markSetText(v.Mark)
	case Log:
		if v.Log != nil {
			return logText(v.Log)
		}
	}
	return string(v.Kind)
}

// IP protocol numbers leash names.
const (
	ProtoICMP   = 1
	ProtoIGMP   = 2
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// ProtoName is the nft name of an IP protocol number (a number if unnamed).
func ProtoName(p uint8) string {
	switch p {
	case ProtoICMP:
		return "icmp"
	case ProtoIGMP:
		return "igmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMPv6:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}
