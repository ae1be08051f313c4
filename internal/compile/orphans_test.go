package compile

import (
	"context"
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

func orphansRuleset(t *testing.T, baseline string) *ruleset.Ruleset {
	t.Helper()
	src := "version: 1\nbaseline:\n  unowned: everyone\n" + baseline + `policies:
  - name: p
    users: [oracle]
    rules:
      - allow: {to: [192.0.2.1], ports: [443/tcp]}
    default: deny
`
	r, err := policy.Load(context.Background(), "p.yaml", []byte(src), policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatal(err)
	}
	rs := Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestOrphanVerdicts: how leash check (eval) judges the packets the orphan
// tag and the MPTCP join rule are about, with the tag the engine set.
func TestOrphanVerdicts(t *testing.T) {
	rs := WithOrphanTag(orphansRuleset(t, ""), 7)
	const judged = 0x00800000
	dst := netip.MustParseAddr("192.0.2.1")
	orphan := func(mark uint32) eval.Packet {
		return eval.Packet{Daddr: dst, Proto: ruleset.ProtoTCP, Dport: 443, CtEstablished: true, CtMark: mark}
	}
	for _, tc := range []struct {
		name  string
		pkt   eval.Packet
		allow bool
		id    string
	}{
		{"owned and allowed: decided by the policy, not the tag chain",
			eval.Packet{Owned: true, UID: policytest.DefaultIDs.Oracle, Daddr: dst, Proto: ruleset.ProtoTCP, Dport: 443}, true, "p/r1"},
		{"orphan of a connection tagged now", orphan(judged | 7<<16), true, "unowned/established"},
		{"orphan of a connection tagged in another generation", orphan(judged | 6<<16), false, "unowned/stale-orphan"},
		{"orphan of a connection never tagged", orphan(judged), true, "unowned/established"},
		{"orphan of a connection no policy judged", orphan(6 << 16), true, "unowned/established"},
		{"ownerless MPTCP join", eval.Packet{Daddr: dst, Proto: ruleset.ProtoTCP, Dport: 443, MPTCPJoin: true}, false, "unowned/mptcp-join"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := eval.Evaluate(rs, tc.pkt)
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			if res.Rule != nil {
				id = res.Rule.Origin.ID
			}
			if res.Allowed() != tc.allow || id != tc.id {
				t.Errorf("allowed %v by %q, want %v by %q (path %v)", res.Allowed(), id, tc.allow, tc.id, res.Path)
			}
		})
	}
}

// TestOrphanSettings: orphan_mark moves or turns off the tag, mptcp_joins:
// unowned removes the join rule.
func TestOrphanSettings(t *testing.T) {
	rule := func(rs *ruleset.Ruleset, id string) bool {
		for _, ch := range rs.Chains {
			for _, r := range ch.Rules {
				if r.Origin.ID == id {
					return true
				}
			}
		}
		return false
	}
	def := orphansRuleset(t, "")
	if tag, mask, ok := OrphanTag(def); !ok || tag != FirstOrphanTag || mask != 0x007f0000 {
		t.Errorf("default: OrphanTag = %d, %#x, %v", tag, mask, ok)
	}
	if !rule(def, "unowned/mptcp-join") || !rule(def, "unowned/stale-orphan") || !rule(def, "p/judged") {
		t.Errorf("default: a rule is missing:\n%s", ruleset.Text(def, ruleset.TextOptions{}))
	}
	moved := orphansRuleset(t, "  orphan_mark: 0x0000001c\n")
	if tag, mask, ok := OrphanTag(moved); !ok || tag != 1 || mask != 0xc || MaxOrphanTag(0x1c) != 3 || NextOrphanTag(3, mask) != 1 {
		t.Errorf("orphan_mark 0x1c: OrphanTag = %d, %#x, %v", tag, mask, ok)
	}
	off := orphansRuleset(t, "  orphan_mark: off\n  mptcp_joins: unowned\n")
	if _, _, ok := OrphanTag(off); ok || off.Chain(ChainOrphanTag) != nil || rule(off, "unowned/stale-orphan") || rule(off, "p/judged") || rule(off, "unowned/mptcp-join") {
		t.Errorf("off: orphan or join rules remain:\n%s", ruleset.Text(off, ruleset.TextOptions{}))
	}
	if WithOrphanTag(off, 3) != off {
		t.Errorf("WithOrphanTag of a table without the tag changed it")
	}
	// WithOrphanTag leaves its input alone.
	before := ruleset.Text(def, ruleset.TextOptions{})
	_ = WithOrphanTag(def, 9)
	if ruleset.Text(def, ruleset.TextOptions{}) != before {
		t.Errorf("WithOrphanTag changed its input")
	}
}

// TestOrphansOffWithUnownedAllow: with unowned: allow every ownerless
// packet passes, so nothing is tagged.
func TestOrphansOffWithUnownedAllow(t *testing.T) {
	src := `version: 1
baseline:
  unowned: allow
policies:
  - name: p
    users: [oracle]
    default: deny
`
	r, err := policy.Load(context.Background(), "p.yaml", []byte(src), policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatal(err)
	}
	rs := Compile(r)
	if _, _, ok := OrphanTag(rs); ok || rs.Chain(ChainOrphanTag) != nil {
		t.Errorf("unowned: allow has an orphan tag:\n%s", ruleset.Text(rs, ruleset.TextOptions{}))
	}
	for _, rule := range rs.Chain(ChainName("p")).Rules {
		if rule.Origin.ID == "p/judged" {
			t.Errorf("unowned: allow marks judged connections")
		}
	}
}
