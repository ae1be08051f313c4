package nft

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// Read decodes `table inet leash` from the kernel into the IR, in kernel
// order (which is the order Apply created things in). Every rule carries its
// counter (Packets, Bytes) and Origin.ID from its comment; other Origin
// fields are not stored in the kernel and come back empty. Matches come back
// in explicit form (ruleset.Canonical): Read(Apply(rs)) equals
// ruleset.Canonical(rs) up to counters and Origin.
//
// It returns (nil, nil) if the table does not exist, and a *ForeignError
// (wrapped) if anything in the table does not fit the IR. The read is a
// consistent snapshot (see snapshot): it is retried if another writer
// changes the ruleset meanwhile.
func (c *Conn) Read() (*ruleset.Ruleset, error) {
	nc, err := c.nft()
	if err != nil {
		return nil, err
	}
	rs, err := snapshot(c, nc, leashTable, func() (*ruleset.Ruleset, error) { return c.read(nc) })
	if err != nil {
		return nil, fmt.Errorf("nft: read: %w", err)
	}
	return rs, nil
}

// read decodes the table once; (nil, nil) if it is absent.
func (c *Conn) read(nc *nftables.Conn) (*ruleset.Ruleset, error) {
	if ok, err := c.Exists(); err != nil || !ok {
		return nil, err
	}
	var foreign []string
	rs := &ruleset.Ruleset{}
	chains, err := c.dumpChains(false)
	if errors.Is(err, errNoTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, ch := range chains {
		dc, err := decodeChain(ch)
		if err != nil {
			foreign = append(foreign, err.Error())
		}
		rs.Chains = append(rs.Chains, dc)
	}
	f, err := c.readSets(nc, rs)
	if err != nil {
		return nil, err
	}
	foreign = append(foreign, f...)
	raws, err := c.dumpRules()
	if errors.Is(err, errNoTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	foreign = append(foreign, decodeRules(rs, raws)...)
	if len(foreign) > 0 {
		return nil, &ForeignError{Items: foreign}
	}
	return rs, nil
}

// hookNames maps NF_INET_* hook numbers back to names.
var hookNames = [...]string{"prerouting", "input", "forward", "output", "postrouting"}

// decodeChain maps a kernel chain onto the IR: a regular chain, or a base
// chain of type filter with policy accept.
func decodeChain(ch *nftables.Chain) (*ruleset.Chain, error) {
	out := &ruleset.Chain{Name: ch.Name}
	if ch.Hooknum == nil {
		return out, nil
	}
	if ch.Type != nftables.ChainTypeFilter || int(*ch.Hooknum) >= len(hookNames) || ch.Priority == nil {
		return out, fmt.Errorf("chain %s: base chain of type %q, hook %d", ch.Name, ch.Type, *ch.Hooknum)
	}
	if ch.Policy != nil && *ch.Policy != nftables.ChainPolicyAccept {
		return out, fmt.Errorf("chain %s: policy is not accept", ch.Name)
	}
	out.Hook = &ruleset.Hook{Hook: hookNames[*ch.Hooknum], Priority: int32(*ch.Priority)}
	return out, nil
}

// readSets decodes every set and map of the table into rs and returns the
// foreign items found.
func (c *Conn) readSets(nc *nftables.Conn, rs *ruleset.Ruleset) ([]string, error) {
	sets, err := nc.GetSets(table())
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	exprs, err := c.dumpSetExprs()
	if err != nil {
		return nil, err
	}
	var foreign []string
	for _, s := range sets {
		if s.Comment != "" { // a live set, or foreign
			kind, _ := kindOf(s.KeyType)
			f, err := readLiveSet(nc, rs, s, kind, exprs[s.Name])
			if err != nil {
				return nil, err
			}
			foreign = append(foreign, f...)
			continue
		}
		if s.Dynamic {
			if f := readMeter(rs, s); f != "" {
				foreign = append(foreign, f)
			}
			continue
		}
		plain := !s.Anonymous && !s.Constant && !s.HasTimeout && !s.Dynamic && !s.Counter
		if fields, ok := fieldKinds(s); ok && plain {
			f, err := c.readFieldsMap(rs, s, fields, exprs[s.Name])
			if err != nil {
				return nil, err
			}
			foreign = append(foreign, f...)
			continue
		}
		kind, ok := kindOf(s.KeyType)
		plain = plain && len(exprs[s.Name]) == 0 && !s.Concatenation && kind != ruleset.KindCgroup
		switch {
		case !ok || !plain:
			foreign = append(foreign, fmt.Sprintf("set %s: type %s, flags other than `interval`", s.Name, s.KeyType.Name))
			continue
		case s.IsMap != (kind == ruleset.KindUID || kind == ruleset.KindGID),
			s.IsMap && s.DataType.Name != nftables.TypeVerdict.Name:
			foreign = append(foreign, fmt.Sprintf("set %s: type %s : %s", s.Name, s.KeyType.Name, s.DataType.Name))
			continue
		}
		elems, err := c.dumpSetElements(s.Name)
		if err != nil {
			return nil, fmt.Errorf("set %s: list elements: %w", s.Name, err)
		}
		ivs, err := decodeElements(elems, s.IsMap, s.Interval, kind)
		if err != nil {
			foreign = append(foreign, fmt.Sprintf("set %s: %v", s.Name, err))
			continue
		}
		if err := addDecodedSet(rs, s.Name, kind, s.Interval, ivs); err != nil {
			foreign = append(foreign, fmt.Sprintf("set %s: %v", s.Name, err))
		}
	}
	return foreign, nil
}

// decodeElements returns a set's or map's elements as intervals: for an
// interval set as the kernel stores them, for a hash set one single-value
// interval per key, sorted (the kernel lists hash elements in any order).
// Hash map keys (uid, gid) are host-endian and converted to big-endian here.
func decodeElements(elems []rawElem, isMap, isInterval bool, kind ruleset.SetKind) ([]interval, error) {
	if isInterval {
		return decodeIntervals(elems, isMap)
	}
	out := make([]interval, 0, len(elems))
	n := keyLen(kind)
	keys := newKeys(2*n, len(elems)) // each key and its successor, from one buffer
	for _, e := range elems {
		if e.end || len(e.key) != n {
			return nil, fmt.Errorf("element %x is not a single %s key", e.key, kind)
		}
		k := keys.next()
		key, next := k[:n:n], k[n:]
		copy(key, e.key)
		if isMap {
			putUintTo(key, uint64(binaryutil.NativeEndian.Uint32(e.key)))
		}
		iv := interval{start: key, end: nextKeyInto(next, key)}
		if isMap {
			chain, err := jumpChain(e.val)
			if err != nil {
				return nil, fmt.Errorf("element %x: %w", e.key, err)
			}
			iv.chain = chain
		}
		out = append(out, iv)
	}
	slices.SortFunc(out, func(a, b interval) int { return bytes.Compare(a.start, b.start) })
	return out, nil
}

// nextKeyInto writes key+1 as a big-endian number into n (as long as key)
// and returns it, or nil if key is the largest.
func nextKeyInto(n, key []byte) []byte {
	copy(n, key)
	for i := len(n) - 1; i >= 0; i-- {
		n[i]++
		if n[i] != 0 {
			return n
		}
	}
	return nil
}

// addDecodedSet appends a decoded set or map to rs.
func addDecodedSet(rs *ruleset.Ruleset, name string, kind ruleset.SetKind, isInterval bool, ivs []interval) error {
	switch kind {
	case ruleset.KindUID, ruleset.KindGID:
		m := &ruleset.Map{Name: name, Key: kind, Interval: isInterval}
		for i, r := range rangesOf(ivs, 4) {
			if ivs[i].chain == "" || ivs[i].comment != "" {
				return fmt.Errorf("element %s is not `jump CHAIN`", r.String())
			}
			m.Entries = append(m.Entries, ruleset.MapEntry{Range: r, Chain: ivs[i].chain})
		}
		rs.Maps = append(rs.Maps, m)
	case ruleset.KindIPv4, ruleset.KindIPv6:
		p, err := prefixesOf(ivs)
		if err != nil {
			return err
		}
		rs.Sets = append(rs.Sets, &ruleset.Set{Name: name, Kind: kind, Interval: isInterval, Prefixes: p})
	case ruleset.KindTime:
		rs.Sets = append(rs.Sets, &ruleset.Set{Name: name, Kind: kind, Interval: isInterval, Times: timesOf(ivs)})
	default:
		rs.Sets = append(rs.Sets, &ruleset.Set{Name: name, Kind: kind, Interval: isInterval, Ranges: rangesOf(ivs, keyLen(kind))})
	}
	return nil
}

// decodeRules appends every rule to its chain in rs and returns the foreign
// items found.
func decodeRules(rs *ruleset.Ruleset, raws []rawRule) []string {
	ix := ruleset.NewIndex(rs)
	sets := decodedRefs(ix)
	var foreign []string
	for _, raw := range raws {
		ch := ix.Chain(raw.chain)
		r, err := decodeRule(rs, raw, sets)
		if err != nil || ch == nil {
			foreign = append(foreign, fmt.Sprintf("chain %s handle %d: %v", raw.chain, raw.handle, err))
			continue
		}
		ch.Rules = append(ch.Rules, r)
	}
	return foreign
}

// decodedRefs resolves set and map names of a decoded ruleset.
func decodedRefs(rs ruleset.Lookup) setRef {
	return func(name string) (setInfo, bool) {
		if s := rs.Set(name); s != nil {
			return setInfo{kind: s.Kind, interval: s.Interval, verdicts: s.Live != nil && s.Live.Verdicts}, true
		}
		if m := rs.Map(name); m != nil {
			return setInfo{kind: m.Key, interval: m.Interval, fields: m.Fields}, true
		}
		return setInfo{}, false
	}
}

// decodeRule maps one kernel rule onto an IR rule: explicit matches, one
// counter, then the verdict. Each candidate is confirmed by re-encoding it
// and comparing expressions, so decoding is the exact inverse of encoding.
func decodeRule(rs *ruleset.Ruleset, raw rawRule, sets setRef) (*ruleset.Rule, error) {
	if len(raw.foreign) > 0 {
		return nil, fmt.Errorf("expressions leash does not use: %v", raw.foreign)
	}
	id, err := ruleComment(raw.userdata)
	if err != nil {
		return nil, err
	}
	r := &ruleset.Rule{Origin: ruleset.Origin{ID: id}}
	ex := raw.exprs
	var pre []expr.Any // a log's limit, before the counter
	for len(ex) > 0 {
		if l, ok := ex[0].(*expr.Limit); ok && len(ex) > 1 {
			pre, ex = []expr.Any{l}, ex[1:]
		}
		if c, ok := ex[0].(*expr.Counter); ok {
			r.Packets, r.Bytes = c.Packets, c.Bytes
			break
		}
		if pre != nil {
			return nil, fmt.Errorf("limit not followed by the counter at %s", describe(ex))
		}
		m, n, err := decodeMatch(ex, sets)
		if err != nil {
			return nil, err
		}
		r.Match = append(r.Match, m)
		ex = ex[n:]
	}
	if len(ex) == 0 {
		return nil, errors.New("no counter")
	}
	learnMasks(rs, ex[1:])
	if lm, ok := limitMatch(pre, ex[1:]); ok {
		r.Match, pre = append(r.Match, lm), nil // the rule's own limit, not a log's
	}
	if r.Verdict, err = decodeVerdict(pre, ex[1:], sets, establishedFamily(r.Match)); err != nil {
		return nil, err
	}
	return r, nil
}

// limitMatch reads a limit before the counter as the rule's MatchLimit
// when the verdict after the counter is not a log (whose limit it would be).
func limitMatch(pre, verdict []expr.Any) (ruleset.Match, bool) {
	if len(pre) != 1 {
		return ruleset.Match{}, false
	}
	for _, e := range verdict {
		if _, isLog := e.(*expr.Log); isLog {
			return ruleset.Match{}, false
		}
	}
	l, ok := pre[0].(*expr.Limit)
	if !ok || l.Rate > math.MaxUint32 {
		return ruleset.Match{}, false
	}
	m := ruleset.Match{Kind: ruleset.MatchLimit, Limit: &ruleset.RateLimit{Rate: uint32(l.Rate), Unit: limitUnit(l.Unit), Burst: l.Burst}}
	// Confirmed by re-encoding, like every match.
	if !exprsEqual([]expr.Any{limitExpr(m.Limit.Rate, m.Limit.Unit, m.Limit.Burst)}, pre) {
		return ruleset.Match{}, false
	}
	return m, true
}

// ruleComment extracts the comment from rule userdata, which must hold
// nothing else.
func ruleComment(ud []byte) (string, error) {
	if len(ud) == 0 {
		return "", nil
	}
	s, ok := userdata.GetString(ud, userdata.TypeComment)
	if !ok || !reflect.DeepEqual(comment(s), ud) {
		return "", fmt.Errorf("rule userdata %q is not a comment", ud)
	}
	return s, nil
}

// decodeMatch guesses the match at the head of ex from its first
// expressions, then confirms it by re-encoding. It returns the match and
// how many expressions it spans.
func decodeMatch(ex []expr.Any, sets setRef) (ruleset.Match, int, error) {
	m, ok := guessMatch(ex)
	if ok {
		enc, err := encodeMatch(m, sets)
		if err == nil && len(enc) <= len(ex) && exprsEqual(enc, ex[:len(enc)]) {
			return m, len(enc), nil
		}
	}
	return m, 0, fmt.Errorf("unexpected expressions at %s", describe(ex))
}

// guessMatch proposes the match whose encoding starts like ex.
func guessMatch(ex []expr.Any) (ruleset.Match, bool) {
	second := func() []byte {
		if len(ex) > 1 {
			if c, ok := ex[1].(*expr.Cmp); ok && len(c.Data) > 0 {
				return c.Data
			}
		}
		return nil
	}
	switch e := ex[0].(type) {
	case *expr.Meta:
		switch e.Key {
		case expr.MetaKeyNFPROTO:
			if d := second(); len(d) == 1 && d[0] == unix.NFPROTO_IPV6 {
				return ruleset.Match{Kind: ruleset.MatchFamily, Value: 6}, true
			}
			return ruleset.Match{Kind: ruleset.MatchFamily, Value: 4}, true
		case expr.MetaKeyL4PROTO:
			if d := second(); len(d) == 1 {
				return ruleset.Match{Kind: ruleset.MatchL4Proto, Value: uint32(d[0])}, true
			}
		case expr.MetaKeySKUID:
			if m, ok := guessMeter(ex); ok {
				return m, true
			}
			return ruleset.Match{Kind: ruleset.MatchOwned}, true
		case expr.MetaKeyOIF:
			return ruleset.Match{Kind: ruleset.MatchLoopback}, true
		case expr.MetaKeyMARK:
			if d := second(); len(d) == 4 {
				return ruleset.Match{Kind: ruleset.MatchMark, Value: binaryutil.NativeEndian.Uint32(d)}, true
			}
		case expr.MetaKeyOIFNAME:
			if d := second(); d != nil {
				return ruleset.Match{Kind: ruleset.MatchOifname, Name: oifnameOf(d)}, true
			}
		case metaKeyTimeNS:
			return guessTime(ex)
		}
	case *expr.Exthdr:
		if e.Op == expr.ExthdrOpTcpopt {
			return ruleset.Match{Kind: ruleset.MatchMPTCPJoin}, true
		}
		if e.Op == exthdrOpIPv4 {
			return ruleset.Match{Kind: ruleset.MatchSourceRoute, Value: uint32(e.Type)}, true
		}
		return ruleset.Match{Kind: ruleset.MatchRoutingHeader}, true
	case *expr.Socket:
		return guessCgroup(e, ex)
	case *expr.Ct:
		switch e.Key {
		case expr.CtKeyDIRECTION:
			return ruleset.Match{Kind: ruleset.MatchCtReply}, true
		case expr.CtKeyMARK:
			return guessCtMark(ex)
		case expr.CtKeySTATE:
			if b, ok := second2(ex).(*expr.Bitwise); ok && len(b.Mask) == 4 && binaryutil.NativeEndian.Uint32(b.Mask) == ctStateNew {
				return ruleset.Match{Kind: ruleset.MatchCtNew}, true
			}
			return ruleset.Match{Kind: ruleset.MatchCtEstablished}, true
		}
	case *expr.Payload:
		if len(ex) < 2 {
			return ruleset.Match{}, false
		}
		if m, ok := guessMeter(ex); ok {
			return m, true
		}
		var mask uint8
		if b, ok := ex[1].(*expr.Bitwise); ok && len(ex) > 2 {
			mask = prefixLen(b.Mask)
			ex = ex[1:]
		}
		l, ok := ex[1].(*expr.Lookup)
		if !ok {
			return ruleset.Match{}, false
		}
		switch {
		case e.Base == expr.PayloadBaseNetworkHeader:
			return ruleset.Match{Kind: ruleset.MatchDaddr, Set: l.SetName, Mask: mask}, true
		case e.Offset == 2:
			return ruleset.Match{Kind: ruleset.MatchDport, Set: l.SetName}, true
		default:
			return ruleset.Match{Kind: ruleset.MatchICMPType, Set: l.SetName}, true
		}
	}
	return ruleset.Match{}, false
}

// prefixLen is the number of leading one bits of a netmask (re-encoding
// confirms the rest is zero).
func prefixLen(mask []byte) uint8 {
	var n uint8
	for _, b := range mask {
		for i := 7; i >= 0 && b&(1<<i) != 0; i-- {
			n++
		}
		if b != 0xff {
			break
		}
	}
	return n
}

// decodeVerdict maps the expressions around the counter (pre before it, ex
// after it) onto a verdict.
func decodeVerdict(pre, ex []expr.Any, sets setRef, family uint32) (ruleset.Verdict, error) {
	v, ok := guessVerdict(pre, ex)
	if ok {
		enc, err := encodeVerdict(v, sets, family)
		if err == nil && exprsEqual(enc, ex) && exprsEqual(beforeCounter(v), pre) {
			return v, nil
		}
	}
	return v, fmt.Errorf("unexpected verdict expressions %s", describe(append(pre, ex...)))
}

// guessVerdict proposes the verdict whose encoding looks like pre, ex.
func guessVerdict(pre, ex []expr.Any) (ruleset.Verdict, bool) {
	if len(pre) == 1 && len(ex) == 1 {
		l, lok := pre[0].(*expr.Limit)
		g, gok := ex[0].(*expr.Log)
		if lok && gok && g.Group <= 0xffff && l.Rate <= 0xffffffff {
			return ruleset.Verdict{Kind: ruleset.Log, Log: &ruleset.LogAction{Prefix: string(g.Data), Group: g.Group,
				Rate: uint32(l.Rate), Unit: limitUnit(l.Unit), Burst: l.Burst}}, true
		}
	}
	if len(ex) == 0 {
		return ruleset.Verdict{Kind: ruleset.Continue}, true
	}
	switch e := ex[0].(type) {
	case *expr.Verdict:
		switch e.Kind {
		case expr.VerdictAccept:
			return ruleset.Verdict{Kind: ruleset.Accept}, true
		case expr.VerdictDrop:
			return ruleset.Verdict{Kind: ruleset.Drop}, true
		case expr.VerdictJump:
			return ruleset.Verdict{Kind: ruleset.Jump, Chain: e.Chain}, true
		case expr.VerdictGoto:
			return ruleset.Verdict{Kind: ruleset.Goto, Chain: e.Chain}, true
		}
	case *expr.Reject:
		if e.Type == unix.NFT_REJECT_TCP_RST {
			return ruleset.Verdict{Kind: ruleset.RejectTCPRST}, true
		}
		return ruleset.Verdict{Kind: ruleset.RejectAdmin}, true
	case *expr.Meta, *expr.Payload:
		if l, ok := ex[len(ex)-1].(*expr.Lookup); ok {
			return ruleset.Verdict{Kind: ruleset.VMap, Map: l.SetName}, true
		}
	case *expr.Socket:
		return guessCgroupVerdictMap(e, ex)
	case *expr.Ct:
		return guessMarkSet(ex)
	}
	return ruleset.Verdict{}, false
}

// limitUnit names a limit's unit ("" if leash never writes it).
func limitUnit(u expr.LimitTime) string {
	for _, name := range []string{"second", "minute", "hour", "day"} {
		if uint64(u) == ruleset.LogUnitSeconds(name) {
			return name
		}
	}
	return ""
}

// exprsEqual compares expression lists, ignoring what the kernel does not
// echo back (set IDs) and counter values.
func exprsEqual(a, b []expr.Any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(normalize(a[i]), normalize(b[i])) {
			return false
		}
	}
	return true
}

func normalize(e expr.Any) expr.Any {
	switch e := e.(type) {
	case *expr.Lookup:
		c := *e
		c.SetID = 0
		return &c
	case *expr.Counter:
		return &expr.Counter{}
	}
	return e
}
