package nft

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Apply replaces `table inet leash` with rs in one netlink batch, which the
// kernel commits as one transaction: destroy the table (no error if absent),
// add it again, add every chain (empty), every set and map with its
// elements, then every rule. If the kernel rejects any part, nothing changes
// and the previous table stays exactly as it was. Apply is idempotent.
// Other tables are never touched.
//
// rs is checked with ruleset.Validate first; an invalid ruleset is refused
// before the kernel is contacted.
//
// nft equivalent: `nft -f` of "destroy table inet leash" followed by
// ruleset.Text(rs).
func (c *Conn) Apply(rs *ruleset.Ruleset) error { return c.ApplyContext(context.Background(), rs) }

// ApplyContext is Apply that stops, before the kernel is sent anything and
// with an error wrapping ctx.Err(), when ctx is done during validation or
// encoding (looked at every few hundred rules). Once the transaction is
// sent it runs to the kernel's answer: the kernel commits all or nothing.
func (c *Conn) ApplyContext(ctx context.Context, rs *ruleset.Ruleset) error {
	if err := ruleset.ValidateContext(ctx, rs); err != nil {
		return fmt.Errorf("nft: apply: %w", err)
	}
	return c.apply(ctx, rs)
}

// apply is Apply without validation: the kernel is the only judge.
func (c *Conn) apply(ctx context.Context, rs *ruleset.Ruleset) error {
	return c.change(func(nc *nftables.Conn) error {
		if err := batchReplace(ctx, nc, rs, c.tableFlags()); err != nil {
			return fmt.Errorf("nft: apply: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("nft: apply: nothing sent to the kernel: %w", err)
		}
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("nft: %w", err)
		}
		return nil
	})
}

// batchReplace buffers the whole replace transaction on nc; the table is
// created with flags (Owning: owner and persist).
func batchReplace(ctx context.Context, nc *nftables.Conn, rs *ruleset.Ruleset, flags nftables.TableFlags) error {
	nc.DestroyTable(table())
	t := table()
	t.Flags = flags
	nc.AddTable(t)
	chains := map[string]*nftables.Chain{}
	for _, ch := range rs.Chains {
		chains[ch.Name] = nc.AddChain(newChain(ch))
	}
	refs, err := addSets(ctx, nc, rs)
	if err != nil {
		return err
	}
	ix := ruleset.NewIndex(rs)
	for _, ch := range rs.Chains {
		for i, r := range ch.Rules {
			if i%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			exprs, err := encodeRule(ix, r, refs)
			if err != nil {
				return fmt.Errorf("chain %s rule %d (%s): %w", ch.Name, i+1, r.Origin.ID, err)
			}
			nc.AddRule(&nftables.Rule{Table: t, Chain: chains[ch.Name], Exprs: exprs, UserData: comment(r.Origin.ID)})
		}
	}
	return nil
}

// newChain is `chain NAME { }`, or for a base chain
// `chain NAME { type filter hook HOOK priority P; policy accept; }`.
func newChain(ch *ruleset.Chain) *nftables.Chain {
	c := &nftables.Chain{Name: ch.Name, Table: table()}
	if ch.Hook == nil {
		return c
	}
	num, _ := ruleset.HookNumber(ch.Hook.Hook) // validated
	prio := nftables.ChainPriority(ch.Hook.Priority)
	policy := nftables.ChainPolicyAccept
	c.Hooknum = nftables.ChainHookRef(nftables.ChainHook(num))
	c.Priority = &prio
	c.Type = nftables.ChainTypeFilter
	c.Policy = &policy
	return c
}

// addSets buffers every set and map with its elements and returns the
// resolver rules use to refer to them by name and transaction ID.
func addSets(ctx context.Context, nc *nftables.Conn, rs *ruleset.Ruleset) (setRef, error) {
	type ref struct {
		info setInfo
		set  *nftables.Set
	}
	refs := map[string]ref{}
	for i, s := range rs.Sets {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		newSet, setElements := newSet, setElements
		if s.Live != nil {
			newSet, setElements = newLiveSet, liveElements
		}
		if s.Meter != nil {
			newSet, setElements = newMeterSet, func(*ruleset.Set) []nftables.SetElement { return nil }
		}
		ns, err := newSet(s)
		if err != nil {
			return nil, err
		}
		if err := nc.AddSet(ns, setElements(s)); err != nil {
			return nil, fmt.Errorf("set %s: %w", s.Name, err)
		}
		refs[s.Name] = ref{setInfo{kind: s.Kind, interval: s.Interval, verdicts: s.Live != nil && s.Live.Verdicts}, ns}
	}
	for _, m := range rs.Maps {
		nm, err := newMap(m)
		if err != nil {
			return nil, err
		}
		if err := nc.AddSet(nm, mapElements(m)); err != nil {
			return nil, fmt.Errorf("map %s: %w", m.Name, err)
		}
		refs[m.Name] = ref{setInfo{kind: m.Key, interval: m.Interval, fields: m.Fields}, nm}
	}
	return func(name string) (setInfo, bool) {
		r, ok := refs[name]
		if !ok {
			return setInfo{}, false
		}
		r.info.id = r.set.ID
		return r.info, true
	}, nil
}

// PrepareApply validates rs and encodes the replace transaction Apply would
// send, without sending it, so that the caller can do other work (write
// its record of the change) meanwhile. send sends it: the kernel commits
// all or nothing, as for Apply, and nothing is sent once ctx is done;
// discard drops it unsent. The caller calls one of them, once. An owning
// Conn (Owning) encodes on its one socket, so there send does the whole
// Apply and discard does nothing.
// nft equivalent: writing the `nft -f` file of Apply, then running it.
func (c *Conn) PrepareApply(ctx context.Context, rs *ruleset.Ruleset) (send func() error, discard func(), err error) {
	if err := ruleset.ValidateContext(ctx, rs); err != nil {
		return nil, nil, fmt.Errorf("nft: apply: %w", err)
	}
	if c.own != nil {
		return func() error { return c.apply(ctx, rs) }, func() {}, nil
	}
	nc, err := c.nft()
	if err != nil {
		return nil, nil, err
	}
	if err := batchReplace(ctx, nc, rs, c.tableFlags()); err != nil {
		return nil, nil, fmt.Errorf("nft: apply: %w", err)
	}
	send = func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("nft: apply: nothing sent to the kernel: %w", err)
		}
		if err := nc.Flush(); err != nil {
			return notOwner(fmt.Errorf("nft: %w", err))
		}
		return nil
	}
	// A connection that never flushed holds no socket: dropping it is all.
	return send, func() {}, nil
}
