package eval

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/leash-dev/leash/internal/ruleset"
)

// probeDest stands for "anywhere on the internet" when asking whether root
// may still reach out (TEST-NET-3: never a real host).
var probeDest = netip.MustParseAddr("203.0.113.1")

// LockoutRisks says what in rs could cut off the admin who applies it, for
// a warning before an apply without a confirmation window:
//
//   - root (uid 0, gid 0) is restricted: a new connection of root's to the
//     internet is not accepted (a mistake can leave the admin unable to
//     reach a mirror, DNS or the host she came from);
//   - the SSH session leash runs in (sshConn, the SSH_CONNECTION
//     variable: "CLIENT CPORT SERVER SPORT"): the reply packets sshd sends
//     to the client (root's socket, conntrack reply direction) are not
//     accepted, so applying rs cuts the session.
//
// Empty when nothing risky is seen. Only rs is judged: other tables may
// drop too (see internal/firewalls).
func LockoutRisks(rs *ruleset.Ruleset, sshConn string) []string {
	var out []string
	root := Packet{Owned: true, Daddr: probeDest, Proto: ruleset.ProtoTCP, Dport: 443}
	if res, err := Evaluate(rs, root); err == nil && !res.Allowed() {
		out = append(out, fmt.Sprintf("root (uid 0) may not open new connections (to %s:443/tcp, say): it is %s", probeDest, decidedBy(res)))
	}
	if client, port, ok := sshClient(sshConn); ok {
		reply := Packet{Owned: true, Daddr: client, Proto: ruleset.ProtoTCP, Dport: port, CtReply: true, CtEstablished: true}
		if res, err := Evaluate(rs, reply); err == nil && !res.Allowed() {
			out = append(out, fmt.Sprintf("the SSH session you run leash from (client %s) would be cut: sshd's replies to it are %s", netip.AddrPortFrom(client, port), decidedBy(res)))
		}
	}
	return out
}

// decidedBy says which rule denies, for LockoutRisks.
func decidedBy(res Result) string {
	if res.Rule == nil {
		return "denied"
	}
	return fmt.Sprintf("denied by %s", res.Rule.Origin.ID)
}

// sshClient reads the client's address and port from SSH_CONNECTION.
func sshClient(v string) (netip.Addr, uint16, bool) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(f[0])
	p, perr := strconv.ParseUint(f[1], 10, 16)
	if err != nil || perr != nil {
		return netip.Addr{}, 0, false
	}
	return a.Unmap(), uint16(p), true
}
