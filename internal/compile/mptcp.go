package compile

import (
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// mptcpJoins is the unowned chain's rule for MPTCP join subflows (after its
// `established` accept, so only their opening SYN reaches it): a
// restricted user's MPTCP connection to an allowed server lets the server
// announce another address (ADD_ADDR), and the kernel opens an extra
// subflow there from a socket that has no file yet: ownerless and new, it
// would be judged by `unowned` (allowed when there is no everyone
// policy). Subflows inherit the MPTCP socket's cgroup, so the cgroup
// dispatch judges those of governed programs by their policy before they
// get here; uids cannot be told. With baseline.mptcp_joins: deny (the
// default) they are dropped and logged:
//
//	meta l4proto tcp tcp option mptcp subtype 1 drop   # unowned/mptcp-join
//
// nil with mptcp_joins: unowned.
func (c *compiler) mptcpJoins(b policy.Baseline) []*ruleset.Rule {
	if b.MPTCPJoins == policy.MPTCPUnowned {
		return nil
	}
	m := []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoTCP}, {Kind: ruleset.MatchMPTCPJoin}}
	o := c.origin("unowned/mptcp-join", "", "unowned", 0, b.MPTCPJoinsPos,
		"MPTCP join subflows the kernel opens without an owner; "+setting("mptcp_joins: deny", b.MPTCPJoinsPos))
	return c.loggedDrop(m, o) // orphans.go
}
