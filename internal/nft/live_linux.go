package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// newLiveSet is a live set's declaration (ruleset.Live):
// `set NAME { type KIND; [size N;] [flags timeout; timeout T;] [counter;]
// comment "SOURCE"; }`. Address keys are big-endian, cgroup ids host-endian
// (nft's cgroupsv2 type).
func newLiveSet(s *ruleset.Set) (*nftables.Set, error) {
	t, ok := setType(s.Kind)
	if !ok {
		return nil, fmt.Errorf("set %s: unsupported kind %q", s.Name, s.Kind)
	}
	order := binaryutil.ByteOrder(binaryutil.BigEndian)
	if s.Kind == ruleset.KindCgroup {
		order = binaryutil.NativeEndian
	}
	l := s.Live
	ns := &nftables.Set{Table: table(), Name: s.Name, KeyType: t, KeyByteOrder: order,
		HasTimeout: l.Timeout > 0, Timeout: l.Timeout, Size: l.Size, Counter: l.Counters, Comment: l.Source}
	if l.Verdicts {
		ns.IsMap, ns.DataType = true, nftables.TypeVerdict
	}
	return ns, nil
}

// liveElements encodes a live set's elements: each key with its own
// timeout (if any) and, when it has counted, a counter starting from its
// count, so a replace carries both.
func liveElements(s *ruleset.Set) []nftables.SetElement {
	elems := s.Elements()
	out := make([]nftables.SetElement, 0, len(elems))
	for _, e := range elems {
		out = append(out, liveElement(s, e))
	}
	return out
}

func liveElement(s *ruleset.Set, e ruleset.Element) nftables.SetElement {
	el := nftables.SetElement{Key: liveKey(s.Kind, e), Timeout: e.Timeout}
	if e.Chain != "" {
		el.VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: e.Chain}
	}
	if s.Live.Counters && (e.Packets > 0 || e.Bytes > 0) {
		el.Counter = &expr.Counter{Packets: e.Packets, Bytes: e.Bytes}
	}
	return el
}

// liveKey is an element's key bytes: the address, or the cgroup id in
// host byte order.
func liveKey(kind ruleset.SetKind, e ruleset.Element) []byte {
	if kind == ruleset.KindCgroup {
		return binary.NativeEndian.AppendUint64(nil, e.Cgroup)
	}
	return e.Addr.AsSlice()
}

// liveSetInfo decides whether a kernel set is one of leash's live sets
// (it has a comment, the Source) and returns its declaration, or the
// reason it is foreign. counts says whether the set has a counter
// expression (the library does not decode set expressions: dumpSetExprs).
func liveSetInfo(s *nftables.Set, kind ruleset.SetKind, exprs []string) (*ruleset.Set, error) {
	counts := false
	for _, x := range exprs {
		if x != "counter" || counts {
			return nil, fmt.Errorf("set %s: expressions %v, leash's live sets have a counter at most", s.Name, exprs)
		}
		counts = true
	}
	verdicts := s.IsMap && s.DataType.Name == nftables.TypeVerdict.Name && kind == ruleset.KindCgroup
	switch {
	case s.Anonymous || s.Constant || s.Interval || (s.IsMap && !verdicts) || s.Dynamic || s.Concatenation:
		return nil, fmt.Errorf("set %s: flags other than `timeout` on a live set", s.Name)
	case kind != ruleset.KindIPv4 && kind != ruleset.KindIPv6 && kind != ruleset.KindCgroup:
		return nil, fmt.Errorf("set %s: live set of type %s", s.Name, s.KeyType.Name)
	case s.HasTimeout != (s.Timeout > 0):
		return nil, fmt.Errorf("set %s: flags timeout without a default timeout", s.Name)
	}
	return &ruleset.Set{Name: s.Name, Kind: kind,
		Live: &ruleset.Live{Timeout: s.Timeout, Size: s.Size, Counters: counts, Source: s.Comment, Verdicts: verdicts}}, nil
}

// decodeLiveElements fills live set out with the kernel's elements: keys,
// own timeouts (the kernel reports the set's default as the element's too;
// that is 0 here), remaining lifetimes and counters.
func decodeLiveElements(out *ruleset.Set, elems []nftables.SetElement) error {
	n := keyLen(out.Kind)
	list := make([]ruleset.Element, 0, len(elems))
	for _, e := range elems {
		if len(e.Key) != n || e.IntervalEnd || (len(e.Val) > 0) != out.Live.Verdicts || e.Comment != "" {
			return fmt.Errorf("element %x is not a single %s key", e.Key, out.Kind)
		}
		el := ruleset.Element{ElementState: ruleset.ElementState{Expires: e.Expires}}
		if out.Live.Verdicts {
			chain, err := jumpChain(e.Val) // the library leaves a map's data undecoded
			if err != nil {
				return fmt.Errorf("element %x: %w", e.Key, err)
			}
			el.Chain = chain
		}
		if e.Timeout != out.Live.Timeout {
			el.Timeout = e.Timeout
		}
		if e.Counter != nil {
			el.Packets, el.Bytes = e.Counter.Packets, e.Counter.Bytes
		}
		if out.Kind == ruleset.KindCgroup {
			el.Cgroup = binary.NativeEndian.Uint64(e.Key)
		} else {
			el.Addr, _ = netip.AddrFromSlice(e.Key)
		}
		list = append(list, el)
	}
	out.SetElements(list)
	return nil
}

// UpdateElements makes ops, incremental changes to leash's live sets, in
// one netlink batch, which the kernel commits as one transaction: all of
// them take effect or none. An added element that is present has its
// timeout refreshed; a deleted one that is absent is no error (destroy).
// Every op is checked first (ruleset.ValidateOp) against the live sets the
// kernel holds: an op on a set that is missing or not live refuses the
// whole batch before the kernel is asked.
//
// nft equivalent: `nft -f` of one `add element` or `destroy element` line
// per op (ruleset.ElementOp.String).
func (c *Conn) UpdateElements(ops []ruleset.ElementOp) error {
	if len(ops) == 0 {
		return nil
	}
	nc, err := c.nft()
	if err != nil {
		return err
	}
	sets, err := c.liveSets(nc)
	if err != nil {
		return fmt.Errorf("nft: update elements: %w", err)
	}
	var bad []error
	for _, op := range ops {
		if err := ruleset.ValidateOp(sets, op); err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("nft: update elements, nothing changed: %w", errors.Join(bad...))
	}
	return c.change(func(nc *nftables.Conn) error {
		for _, op := range ops {
			s := sets.Set(op.Set)
			ns, _ := newLiveSet(s) // validated
			el := []nftables.SetElement{liveElement(s, op.Elem)}
			var err error
			if op.Delete {
				err = nc.SetDestroyElements(ns, el)
			} else {
				err = nc.SetAddElements(ns, el)
			}
			if err != nil {
				return fmt.Errorf("nft: update elements: %s: %w", op, err)
			}
		}
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("nft: update elements, nothing changed: %w", err)
		}
		return nil
	})
}

// ReadLive returns leash's live sets (ruleset.Live) with their elements,
// each with its own timeout, remaining lifetime and counter, as a ruleset
// holding those sets only; (nil, nil) when the table does not exist. It
// reads only the live sets, so it stays cheap beside a large static table,
// and sets that are not leash's live sets are skipped, not reported (Read
// reports them).
// nft equivalent: `nft list set inet leash NAME` for each live set.
func (c *Conn) ReadLive() (*ruleset.Ruleset, error) {
	nc, err := c.nft()
	if err != nil {
		return nil, err
	}
	rs, err := snapshot(c, nc, leashTable, func() (*ruleset.Ruleset, error) { return c.readLive(nc) })
	if err != nil {
		return nil, fmt.Errorf("nft: read live sets: %w", err)
	}
	return rs, nil
}

// readLive reads the live sets once; (nil, nil) if the table is absent.
func (c *Conn) readLive(nc *nftables.Conn) (*ruleset.Ruleset, error) {
	if ok, err := c.Exists(); err != nil || !ok {
		return nil, err
	}
	rs, err := c.liveSets(nc)
	if err != nil {
		return nil, err
	}
	for _, s := range rs.Sets {
		elems, err := nc.GetSetElements(&nftables.Set{Table: table(), Name: s.Name, KeyType: mustSetType(s.Kind)})
		if err != nil {
			return nil, fmt.Errorf("set %s: %w", s.Name, err)
		}
		if err := decodeLiveElements(s, elems); err != nil {
			return nil, fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	return rs, nil
}

func mustSetType(k ruleset.SetKind) nftables.SetDatatype {
	t, _ := setType(k)
	return t
}

// liveSets reads the declarations of leash's live sets (no elements).
func (c *Conn) liveSets(nc *nftables.Conn) (*ruleset.Ruleset, error) {
	sets, err := nc.GetSets(table())
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("table inet %s does not exist", ruleset.TableName)
	}
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	exprs, err := c.dumpSetExprs()
	if err != nil {
		return nil, err
	}
	rs := &ruleset.Ruleset{}
	for _, s := range sets {
		kind, ok := kindOf(s.KeyType)
		if !ok || s.Comment == "" {
			continue
		}
		if d, err := liveSetInfo(s, kind, exprs[s.Name]); err == nil {
			rs.Sets = append(rs.Sets, d)
		}
	}
	return rs, nil
}

// dumpSetExprs returns, per set of `table inet leash`, the names of its
// set expressions (NFTA_SET_EXPR, NFTA_SET_EXPRESSIONS): `counter` for a
// live set that counts. The library does not decode them.
func (c *Conn) dumpSetExprs() (map[string][]string, error) {
	out := map[string][]string{}
	filter := []netlink.Attribute{tableFilter(unix.NFTA_SET_TABLE)}
	err := c.dumpObjects(unix.NFT_MSG_GETSET, unix.NFT_MSG_NEWSET, unix.NFPROTO_INET, filter, func(_ byte, attrs []byte) error {
		name, exprs, err := parseSetExprs(attrs)
		out[name] = exprs
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dump sets: %w", err)
	}
	return out, nil
}

// Set attributes x/sys/unix does not name (linux/netfilter/nf_tables.h).
const (
	nftaSetExpr        = 17 // NFTA_SET_EXPR: one set expression
	nftaSetExpressions = 18 // NFTA_SET_EXPRESSIONS: a list of them
)

// parseSetExprs decodes a set's name and the names of its expressions.
func parseSetExprs(b []byte) (string, []string, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return "", nil, err
	}
	var name string
	var exprs []string
	exprName := func(nb []byte) error {
		nad, err := netlink.NewAttributeDecoder(nb)
		if err != nil {
			return err
		}
		for nad.Next() {
			if nad.Type() == unix.NFTA_EXPR_NAME {
				exprs = append(exprs, nad.String())
			}
		}
		return nad.Err()
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_NAME:
			name = ad.String()
		case nftaSetExpr:
			ad.Do(exprName)
		case nftaSetExpressions:
			ad.Do(func(lb []byte) error {
				lad, err := netlink.NewAttributeDecoder(lb)
				if err != nil {
					return err
				}
				for lad.Next() {
					if lad.Type() == unix.NFTA_LIST_ELEM {
						lad.Do(exprName)
					}
				}
				return lad.Err()
			})
		}
	}
	return name, exprs, ad.Err()
}

// readLiveSet decodes kernel set s, which has a comment, as a live set into
// rs, and returns it as a foreign item if it is not one of leash's.
func readLiveSet(nc *nftables.Conn, rs *ruleset.Ruleset, s *nftables.Set, kind ruleset.SetKind, exprs []string) ([]string, error) {
	d, err := liveSetInfo(s, kind, exprs)
	if err != nil {
		return []string{err.Error()}, nil
	}
	elems, err := nc.GetSetElements(s)
	if err != nil {
		return nil, fmt.Errorf("set %s: list elements: %w", s.Name, err)
	}
	if err := decodeLiveElements(d, elems); err != nil {
		return []string{fmt.Sprintf("set %s: %v", s.Name, err)}, nil
	}
	rs.Sets = append(rs.Sets, d)
	return nil, nil
}
