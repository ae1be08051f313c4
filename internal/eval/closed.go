package eval

import "github.com/leash-dev/leash/internal/ruleset"

// closedWindow records in res.Closed the rule that r would have decided
// pkt by if r's time window were open: r itself when its verdict is
// terminal, or the rule that decides in the chain r jumps to (a run of
// rules that share one window, compile's window runs). r did not match;
// only rules with a `meta time` match whose other matches all hold count.
func closedWindow(rs ruleset.Lookup, r *ruleset.Rule, pkt Packet, res *Result, depth int) error {
	var rest []ruleset.Match
	timed := false
	for _, m := range r.Match {
		if m.Kind == ruleset.MatchTime {
			timed = true
			continue
		}
		rest = append(rest, m)
	}
	if !timed {
		return nil
	}
	ok, err := matches(rs, rest, pkt)
	if err != nil || !ok {
		return err
	}
	if r.Verdict.Terminal() {
		res.Closed, res.ClosedVerdict = r, r.Verdict
		return nil
	}
	next, _, entry, err := target(rs, r.Verdict, pkt)
	if entry != nil { // a map entry that carries its rule's verdict
		res.Closed, res.ClosedVerdict = entry, entry.Verdict
		return nil
	}
	if err != nil || next == nil {
		return err
	}
	var open Result
	done, err := walk(rs, next, pkt, &open, depth+1)
	if err != nil {
		return err
	}
	if done && open.Rule != nil {
		res.Closed, res.ClosedVerdict = open.Rule, open.Verdict
	}
	return nil
}
