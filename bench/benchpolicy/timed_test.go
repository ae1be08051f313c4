package benchpolicy

import (
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestTimed: the Timed variant compiles to a valid ruleset in which the
// measured packets pass the closed windows and are accepted by the limited
// allow.
func TestTimed(t *testing.T) {
	r, tgt := Build(Spec{Users: 100, CIDRs: 1000, Timed: true})
	rs := compile.Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	for _, port := range []uint16{UDPPort, TCPPort} {
		proto := uint8(ruleset.ProtoUDP)
		if port == TCPPort {
			proto = ruleset.ProtoTCP
		}
		res, err := eval.Evaluate(rs, eval.Packet{Owned: true, UID: tgt.UID, GID: tgt.UID, Daddr: netip.MustParseAddr("127.0.0.1"),
			Proto: proto, Dport: port, Loopback: true, At: timedAt()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rule == nil || res.Rule.Origin.ID != tgt.Allow || !res.Allowed() {
			t.Errorf("port %d: decided by %v, want accept by %s", port, res.Rule, tgt.Allow)
		}
	}
	if got := rs.Set(tgt.Policy + "_r12_rate_uid"); got == nil || got.Meter.Size != 10 {
		t.Errorf("meter of %s: %+v, want one of 10 uids", tgt.Policy, got)
	}
}
