package nft

import (
	"context"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// orphanPolicy has the orphan tag in a non-default mask and the MPTCP join
// rule: the conntrack mark matches, the masked mark writes and the MPTCP
// option match of compile/orphans.go and mptcp.go.
const orphanPolicy = `version: 1
baseline:
  orphan_mark: 0x00000f00
  unowned: deny
policies:
  - name: p
    users: [{uid: 4242}]
    default: deny
`

// TestOrphanTextEquivalence: the orphan tag's rules (ct mark comparisons,
// `ct mark set ct mark & ~M | V`, the second output base chain) and `tcp
// option mptcp subtype 1` encode exactly as nft -f loads their text, and
// decode back, with the tag the engine would set after a change.
func TestOrphanTextEquivalence(t *testing.T) {
	r, err := policy.Load(context.Background(), "orphans.yaml", []byte(orphanPolicy), policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.WithOrphanTag(compile.Compile(r), 5)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	if tag, mask, ok := compile.OrphanTag(rs); !ok || tag != 5 || mask != 0x700 {
		t.Fatalf("OrphanTag = %d, %#x, %v; want 5, 0x700, true", tag, mask, ok)
	}
	checkTextEquivalence(t, rs)
}
