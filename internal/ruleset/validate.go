package ruleset

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Kernel and nft limits on names and comments.
const (
	// MaxNameLen is the longest table, chain, set or map name the kernel
	// accepts: NFT_NAME_MAXLEN, NFT_CHAIN_MAXNAMELEN and NFT_SET_MAXNAMELEN
	// are 256 bytes including the terminating NUL.
	MaxNameLen = 255
	// MaxCommentLen is the longest rule comment nft accepts
	// (NFTNL_UDATA_COMMENT_MAXLEN, 128).
	MaxCommentLen = 128
)

// Validate checks that rs is internally consistent and loadable: names are
// valid and unique, every set, map and chain a rule or map entry refers to
// exists and has the right kind, set elements fit their kind and are sorted
// and disjoint, map entries are sorted and disjoint, comments fit, and no rule
// has protocol contradictions nft would reject. It reports every problem
// found, joined. It does not touch the kernel.
func Validate(rs *Ruleset) error { return ValidateContext(context.Background(), rs) }

// cancelEvery is how many rules Validate checks between looks at its
// context.
const cancelEvery = 1024

// ValidateContext is Validate that stops when ctx is done (looked at every
// cancelEvery rules), with an error wrapping ctx.Err().
func ValidateContext(ctx context.Context, rs *Ruleset) error {
	if rs == nil {
		return errors.New("ruleset: nil ruleset")
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	chains := indexChains(rs) // jump targets: one lookup each, not a scan of every chain
	ix := NewIndex(rs)        // sets and maps, likewise
	masks := maskChecks{}
	objects := map[string]string{} // sets and maps share one namespace
	for _, s := range rs.Sets {
		add(uniqueName(objects, "set", s.Name))
		add(validateSet(s))
		add(liveMapTargets(s, chains))
	}
	for _, m := range rs.Maps {
		add(uniqueName(objects, "map", m.Name))
		add(validateMap(m, chains))
	}
	names := map[string]string{}
	seen := 0 // rules
	for _, c := range rs.Chains {
		add(uniqueName(names, "chain", c.Name))
		add(validateHook(c))
		for i, r := range c.Rules {
			if seen++; seen%cancelEvery == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("ruleset: validate: %w", err)
				}
			}
			if err := validateRule(ix, masks, r, chains); err != nil {
				add(fmt.Errorf("chain %s rule %d (%s): %w", c.Name, i+1, r.Origin.ID, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("ruleset: invalid: %w", errors.Join(errs...))
	}
	return nil
}

// ValidName reports whether name can be a chain, set or map name both for the
// kernel and in nft's text syntax: a letter or underscore, then letters,
// digits, '_', '-' or '.', at most MaxNameLen bytes.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func uniqueName(seen map[string]string, what, name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%s %q: invalid name (want [A-Za-z_][A-Za-z0-9_.-]*, at most %d bytes)", what, name, MaxNameLen)
	}
	if prev, ok := seen[name]; ok {
		return fmt.Errorf("%s %q: name already used by a %s", what, name, prev)
	}
	seen[name] = what
	return nil
}

func validateSet(s *Set) error {
	if s.Meter != nil {
		return validateMeter(s)
	}
	if s.Live != nil {
		return validateLive(s)
	}
	if len(s.Cgroups)+len(s.State) > 0 || s.Kind == KindCgroup {
		return fmt.Errorf("set %s: cgroup ids and element state belong to live sets only", s.Name)
	}
	if s.Kind == KindTime {
		return validateTimes(s)
	} else if len(s.Times) > 0 {
		return fmt.Errorf("set %s: kind %s holds no times", s.Name, s.Kind)
	}
	switch s.Kind {
	case KindIPv4, KindIPv6:
		if len(s.Ranges) > 0 {
			return fmt.Errorf("set %s: kind %s holds prefixes, not ranges", s.Name, s.Kind)
		}
		if err := validatePrefixes(s); err != nil {
			return err
		}
		for _, p := range s.Prefixes {
			if !s.Interval && !p.IsSingleIP() {
				return fmt.Errorf("set %s: element %v: a set without flags interval holds single addresses only", s.Name, p)
			}
		}
		return nil
	case KindPort, KindICMP, KindICMPv6:
		if len(s.Prefixes) > 0 {
			return fmt.Errorf("set %s: kind %s holds ranges, not prefixes", s.Name, s.Kind)
		}
		return validateRanges(fmt.Sprintf("set %s", s.Name), s.Ranges, KindMax(s.Kind), s.Interval)
	}
	return fmt.Errorf("set %s: unsupported kind %q", s.Name, s.Kind)
}

// KindMax is the largest value a numeric kind holds.
func KindMax(k SetKind) uint32 {
	switch k {
	case KindPort:
		return 0xffff
	case KindICMP, KindICMPv6:
		return 0xff
	}
	return 0xffffffff
}

func validatePrefixes(s *Set) error {
	var prevLast netip.Addr
	for i, p := range s.Prefixes {
		if !p.IsValid() || p != p.Masked() {
			return fmt.Errorf("set %s: element %d: %v is not a masked prefix", s.Name, i, p)
		}
		if p.Addr().Is4() != (s.Kind == KindIPv4) || p.Addr().Is4In6() {
			return fmt.Errorf("set %s: element %v does not fit kind %s", s.Name, p, s.Kind)
		}
		if i > 0 && p.Addr().Compare(prevLast) <= 0 {
			return fmt.Errorf("set %s: element %v overlaps or is out of order (elements must be sorted and disjoint)", s.Name, p)
		}
		prevLast = LastAddr(p)
	}
	return nil
}

// LastAddr is the highest address in p.
func LastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// validateRanges checks that rs are sorted, disjoint ranges within [0, max],
// and single values unless interval.
func validateRanges(what string, rs []Range, max uint32, interval bool) error {
	for i, r := range rs {
		if r.Lo > r.Hi || r.Hi > max {
			return fmt.Errorf("%s: element %d: bad range %d-%d (max %d)", what, i, r.Lo, r.Hi, max)
		}
		if !interval && r.Lo != r.Hi {
			return fmt.Errorf("%s: element %s: without flags interval only single values are allowed", what, r)
		}
		if i > 0 && r.Lo <= rs[i-1].Hi {
			return fmt.Errorf("%s: element %d-%d overlaps or is out of order (elements must be sorted and disjoint)", what, r.Lo, r.Hi)
		}
	}
	return nil
}

func validateMap(m *Map, chains chainIndex) error {
	if len(m.Fields) > 0 {
		return validateFieldsMap(m, chains)
	}
	if m.Key != KindUID && m.Key != KindGID {
		return fmt.Errorf("map %s: key kind %q, want %s or %s", m.Name, m.Key, KindUID, KindGID)
	}
	ranges := make([]Range, len(m.Entries))
	targets := jumpTargets{}
	for i, e := range m.Entries {
		ranges[i] = e.Range
		if err := validateEntryVerdict(m, e, targets, chains); err != nil {
			return fmt.Errorf("map %s: entry %s: %w", m.Name, e.Range.String(), err)
		}
	}
	return validateRanges("map "+m.Name, ranges, KindMax(m.Key), m.Interval)
}

// jumpTargets memoizes jumpTarget per chain name: a map of 100,000 entries
// jumps to a few chains.
type jumpTargets map[string]error

func (t jumpTargets) check(chains chainIndex, name string) error {
	err, ok := t[name]
	if !ok {
		err = jumpTarget(chains, name)
		t[name] = err
	}
	return err
}

// validateFieldsMap checks a map keyed by a concatenation (see KeyField):
// known field kinds, at most one address field and it comes first, masks
// only on addresses, a port field only after a protocol field, interval
// only with a single field; every entry has one value per field that fits
// it (single values in a hash map, network addresses at the field's mask)
// and tcp or udp before a port. Entries are distinct (a hash holds each key
// once); their order is free.
func validateFieldsMap(m *Map, chains chainIndex) error {
	if m.Key != "" {
		return fmt.Errorf("map %s: both a key kind and key fields", m.Name)
	}
	if len(m.Fields) > 5 {
		return fmt.Errorf("map %s: %d key fields, at most 5", m.Name, len(m.Fields))
	}
	if m.Interval && len(m.Fields) > 1 {
		return fmt.Errorf("map %s: flags interval with a concatenated key is not supported (pipapo)", m.Name)
	}
	for i, f := range m.Fields {
		if err := validateField(m.Fields, i); err != nil {
			return fmt.Errorf("map %s: key field %d (%s): %w", m.Name, i+1, f.Kind, err)
		}
	}
	if k := m.Fields[0].Kind; k == KindEther || k == KindIfname {
		if err := validateTextField(m); err != nil {
			return err
		}
	}
	targets := jumpTargets{}
	seen := make(map[entryKey]struct{}, len(m.Entries))
	for i, e := range m.Entries {
		if err := validateEntry(m, e); err != nil {
			return fmt.Errorf("map %s: entry %d: %w", m.Name, i+1, err)
		}
		if err := validateEntryVerdict(m, e, targets, chains); err != nil {
			return fmt.Errorf("map %s: entry %s: %w", m.Name, entryKeyText(m, e), err)
		}
		if !m.Interval {
			k := keyOf(e.Values)
			if _, dup := seen[k]; dup {
				return fmt.Errorf("map %s: entry %s appears twice", m.Name, entryKeyText(m, e))
			}
			seen[k] = struct{}{}
		}
	}
	if m.Interval && m.Fields[0].Kind.IsAddr() {
		return validatePrefixes(&Set{Name: m.Name, Kind: m.Fields[0].Kind, Prefixes: entryPrefixes(m)})
	}
	return nil
}

// entryKey is a hash map entry's key as a comparable value: the address
// (if any) and up to four numbers (validated: at most 5 fields, one address).
type entryKey struct {
	addr netip.Addr
	nums [5]uint32
	text string
}

func keyOf(vs []KeyValue) entryKey {
	var k entryKey
	for i, v := range vs {
		if v.Text != "" {
			k.text = v.Text
			continue
		}
		if v.Prefix.IsValid() {
			k.addr = v.Prefix.Addr()
			continue
		}
		k.nums[i] = v.Lo
	}
	return k
}

// entryPrefixes are the address values of a one-field address map.
func entryPrefixes(m *Map) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(m.Entries))
	for _, e := range m.Entries {
		if len(e.Values) > 0 {
			out = append(out, e.Values[0].Prefix)
		}
	}
	return out
}

func validateField(fields []KeyField, i int) error {
	f := fields[i]
	switch f.Kind {
	case KindIPv4, KindIPv6:
		if i != 0 {
			return fmt.Errorf("an address field must come first")
		}
		if bits := map[SetKind]int{KindIPv4: 32, KindIPv6: 128}[f.Kind]; int(f.Mask) >= bits {
			return fmt.Errorf("mask /%d must be shorter than /%d (leave it 0 for none)", f.Mask, bits)
		}
		return nil
	case KindPort:
		if i == 0 || fields[i-1].Kind != KindProto {
			return fmt.Errorf("th dport needs an inet_proto field right before it")
		}
	case KindProto, KindICMP, KindICMPv6:
	case KindEther, KindIfname:
		if len(fields) != 1 {
			return fmt.Errorf("%s must be the only key field", f.Kind)
		}
	default:
		return fmt.Errorf("not a key field kind")
	}
	if f.Source {
		return fmt.Errorf("only address fields load a source")
	}
	if f.Mask != 0 {
		return fmt.Errorf("only address fields take a mask")
	}
	return nil
}

func validateEntry(m *Map, e MapEntry) error {
	if len(e.Values) != len(m.Fields) {
		return fmt.Errorf("%d values for %d key fields", len(e.Values), len(m.Fields))
	}
	for i, f := range m.Fields {
		v := e.Values[i]
		if f.Kind == KindEther || f.Kind == KindIfname {
			continue // validateTextField
		}
		if v.Text != "" {
			return fmt.Errorf("value %q: only ether_addr and ifname fields hold text", v.Text)
		}
		if f.Kind.IsAddr() {
			p := v.Prefix
			switch {
			case !p.IsValid() || p != p.Masked() || p.Addr().Is4() != (f.Kind == KindIPv4) || p.Addr().Is4In6():
				return fmt.Errorf("value %v is not a %s prefix", p, f.Kind)
			case !m.Interval && !p.IsSingleIP():
				return fmt.Errorf("value %v: a map without flags interval holds single addresses only", p)
			case f.Mask > 0 && netip.PrefixFrom(p.Addr(), int(f.Mask)).Masked().Addr() != p.Addr():
				return fmt.Errorf("value %v has bits beyond the mask /%d", p.Addr(), f.Mask)
			}
			continue
		}
		max := KindMax(f.Kind)
		if f.Kind == KindProto {
			max = 0xff
		}
		if v.Lo != v.Hi || v.Hi > max {
			return fmt.Errorf("value %s of %s: want one value up to %d", v.Range.String(), f.Kind, max)
		}
		if f.Kind == KindPort && e.Values[i-1].Lo != ProtoTCP && e.Values[i-1].Lo != ProtoUDP {
			return fmt.Errorf("port %d after protocol %s: ports are only matched for tcp and udp", v.Lo, ProtoName(uint8(e.Values[i-1].Lo)))
		}
	}
	return nil
}

// chainIndex finds chains by name (the first of a duplicated name).
type chainIndex map[string]*Chain

func indexChains(rs *Ruleset) chainIndex {
	idx := make(chainIndex, len(rs.Chains))
	for _, c := range rs.Chains {
		if _, dup := idx[c.Name]; !dup {
			idx[c.Name] = c
		}
	}
	return idx
}

// jumpTarget checks that a jump or goto to name is loadable: the chain
// exists and is a regular chain (the kernel refuses jumps to base chains).
func jumpTarget(chains chainIndex, name string) error {
	c := chains[name]
	switch {
	case c == nil:
		return fmt.Errorf("chain %q does not exist", name)
	case c.Hook != nil:
		return fmt.Errorf("chain %q is a base chain and cannot be a jump target", name)
	}
	return nil
}

func validateHook(c *Chain) error {
	if c.Hook == nil {
		return nil
	}
	if _, ok := HookNumber(c.Hook.Hook); !ok {
		return fmt.Errorf("chain %s: unsupported hook %q", c.Name, c.Hook.Hook)
	}
	return nil
}

// HookNumber maps a hook name of an inet filter chain to its NF_INET_* number.
func HookNumber(name string) (uint32, bool) {
	switch name {
	case "prerouting":
		return 0, true
	case "input":
		return 1, true
	case "forward":
		return 2, true
	case "output":
		return 3, true
	case "postrouting":
		return 4, true
	}
	return 0, false
}

func validateRule(rs Lookup, masks maskChecks, r *Rule, chains chainIndex) error {
	if err := validateComment(r.Origin.ID); err != nil {
		return err
	}
	for i, m := range r.Match {
		if err := validateMatch(rs, masks, m); err != nil {
			return err
		}
		// The kernel holds a limit right before the counter, where a log
		// verdict's own limit goes: one per rule, and the last match.
		if m.Kind == MatchLimit && (i != len(r.Match)-1 || r.Verdict.Kind == Log) {
			return fmt.Errorf("match limit: must be the rule's last match, and not on a log rule")
		}
	}
	if err := validateVerdict(rs, r.Verdict, chains); err != nil {
		return err
	}
	_, err := ExplicitMatches(rs, r)
	return err
}

func validateComment(c string) error {
	if len(c) > MaxCommentLen {
		return fmt.Errorf("comment %q is %d bytes, at most %d allowed", c, len(c), MaxCommentLen)
	}
	if strings.ContainsAny(c, "\"\n\x00") {
		return fmt.Errorf("comment %q contains a quote, newline or NUL", c)
	}
	return nil
}

func validateMatch(rs Lookup, masks maskChecks, m Match) error {
	switch m.Kind {
	case MatchFamily:
		if m.Value != 4 && m.Value != 6 {
			return fmt.Errorf("match family: value %d, want 4 or 6", m.Value)
		}
	case MatchL4Proto:
		if m.Value > 255 {
			return fmt.Errorf("match l4proto: value %d is not a protocol number", m.Value)
		}
	case MatchOwned, MatchLoopback, MatchCtReply, MatchCtEstablished, MatchMark:
	case MatchDaddr:
		if err := setOfKind(rs, m, KindIPv4, KindIPv6); err != nil {
			return err
		}
		return masks.check(rs.Set(m.Set), m.Mask)
	case MatchDport:
		return setOfKind(rs, m, KindPort)
	case MatchICMPType:
		return setOfKind(rs, m, KindICMP, KindICMPv6)
	case MatchRoutingHeader:
	case MatchSourceRoute:
		if m.Value != OptLSRR && m.Value != OptSSRR {
			return fmt.Errorf("match source-route: option %d, want %d (lsrr) or %d (ssrr)", m.Value, OptLSRR, OptSSRR)
		}
	case MatchOifname:
		if err := ValidIfname(m.Name, true); err != nil {
			return fmt.Errorf("match oifname: %w", err)
		}
	case MatchCgroup:
		return validateCgroupMatch(rs, m)
	case MatchTime:
		return setOfKind(rs, m, KindTime)
	case MatchCtNew, MatchMPTCPJoin:
	case MatchCtMark:
		return validateCtMark(m)
	case MatchMeter:
		return validateMeterMatch(rs, m)
	case MatchLimit:
		switch l := m.Limit; {
		case l == nil:
			return fmt.Errorf("match limit without a rate")
		case l.Rate == 0 || LogUnitSeconds(l.Unit) == 0:
			return fmt.Errorf("match limit: rate %d/%s, want a positive rate per second, minute, hour or day", l.Rate, l.Unit)
		case l.Burst == 0:
			return fmt.Errorf("match limit: burst must be positive")
		}
	default:
		return fmt.Errorf("unknown match kind %q", m.Kind)
	}
	return nil
}

// maskChecks remembers validateMask's verdict per set and mask: a set that
// many rules share is checked once, not once per rule.
type maskChecks map[maskKey]error

type maskKey struct {
	set  *Set
	mask uint8
}

func (mc maskChecks) check(s *Set, mask uint8) error {
	k := maskKey{s, mask}
	if err, ok := mc[k]; ok {
		return err
	}
	err := validateMask(s, mask)
	mc[k] = err
	return err
}

// validateMask checks a masked address lookup: the set is a hash set of
// network addresses of that prefix length (an element with host bits set
// could never match).
func validateMask(s *Set, mask uint8) error {
	if mask == 0 {
		return nil
	}
	bits := 32
	if s.Kind == KindIPv6 {
		bits = 128
	}
	if int(mask) >= bits {
		return fmt.Errorf("match daddr @%s: mask /%d must be shorter than /%d (leave it 0 for none)", s.Name, mask, bits)
	}
	if s.Interval {
		return fmt.Errorf("match daddr & /%d @%s: masked lookups need a set without flags interval", mask, s.Name)
	}
	for _, p := range s.Prefixes {
		if netip.PrefixFrom(p.Addr(), int(mask)).Masked().Addr() != p.Addr() {
			return fmt.Errorf("match daddr & /%d @%s: element %v has bits beyond the mask", mask, s.Name, p.Addr())
		}
	}
	return nil
}

func setOfKind(rs Lookup, m Match, kinds ...SetKind) error {
	s := rs.Set(m.Set)
	if s == nil {
		return fmt.Errorf("match %s: set %q does not exist", m.Kind, m.Set)
	}
	for _, k := range kinds {
		if s.Kind == k {
			return nil
		}
	}
	return fmt.Errorf("match %s: set %q has kind %s, want one of %v", m.Kind, m.Set, s.Kind, kinds)
}

func validateVerdict(rs Lookup, v Verdict, chains chainIndex) error {
	switch v.Kind {
	case Accept, Drop, RejectTCPRST, RejectAdmin, Continue:
	case Log:
		return validateLog(v.Log)
	case CtMarkSet:
		return validateMarkSet(v.Mark)
	case Jump, Goto:
		if err := jumpTarget(chains, v.Chain); err != nil {
			return fmt.Errorf("%s: %w", v.Kind, err)
		}
	case VMap:
		if s := rs.Set(v.Map); s != nil && rs.Map(v.Map) == nil {
			return liveMapVerdict(s, v)
		}
		if rs.Map(v.Map) == nil {
			return fmt.Errorf("vmap: map %q does not exist", v.Map)
		}
		if v.Level != 0 {
			return fmt.Errorf("vmap @%s: a level belongs to a live cgroup map", v.Map)
		}
	default:
		return fmt.Errorf("unknown verdict kind %q", v.Kind)
	}
	return nil
}
