package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// Map elements that carry their rule's verdict (ruleset/entryverdict.go):
// `KEY counter comment "ID" : accept`. On the wire (what nft 1.0.6 sends
// and the kernel dumps): the map's `counter` is NFTA_SET_EXPR holding a
// counter expression (google/nftables' Set.Counter), so the kernel gives
// every element a counter of its own; an element's data is an
// NFTA_DATA_VERDICT with NF_ACCEPT or NF_DROP (or NFT_JUMP and the
// chain); its comment is NFTNL_UDATA_SET_ELEM_COMMENT in
// NFTA_SET_ELEM_USERDATA; its counter comes back as NFTA_SET_ELEM_EXPR
// (one expression; NFTA_SET_ELEM_EXPRESSIONS with several). leash sends
// an element's counter only to carry a count (non-zero); otherwise the
// kernel's copy of the map's counter starts at zero.

// elemData is what a map element holds besides its key.
type elemData struct {
	chain   string              // jump target, or
	verdict ruleset.VerdictKind // accept or drop
	comment string              // the rule id of an element with a verdict
	packets uint64
	bytes   uint64
}

// dataOf is the element data of map entry e.
func dataOf(e ruleset.MapEntry) elemData {
	return elemData{chain: e.Chain, verdict: e.Verdict, comment: e.Rule, packets: e.Packets, bytes: e.Bytes}
}

// entry is the map entry with data d and key values (or range) filled in by
// the caller.
func (d elemData) entry() ruleset.MapEntry {
	return ruleset.MapEntry{Chain: d.chain, Verdict: d.verdict, Rule: d.comment, Packets: d.packets, Bytes: d.bytes}
}

// put writes d into el: the verdict (shared among elements through
// verdicts), the comment and a non-zero counter.
func (d elemData) put(el *nftables.SetElement, verdicts jumpVerdicts) {
	el.VerdictData = verdicts.of(d)
	el.Comment = d.comment
	if d.packets > 0 || d.bytes > 0 {
		el.Counter = &expr.Counter{Packets: d.packets, Bytes: d.bytes}
	}
}

// of is the verdict of element data d: its jump, or its accept or drop.
func (j jumpVerdicts) of(d elemData) *expr.Verdict {
	switch d.verdict {
	case "":
		return j.to(d.chain)
	case ruleset.Accept, ruleset.Drop:
		key := "\x00" + string(d.verdict) // chain names have no NUL
		v, ok := j[key]
		if !ok {
			v = &expr.Verdict{Kind: expr.VerdictAccept}
			if d.verdict == ruleset.Drop {
				v.Kind = expr.VerdictDrop
			}
			j[key] = v
		}
		return v
	}
	return nil // refused by ruleset.Validate
}

// elemDataOf decodes the data, comment and counter of a fields map's
// element: `jump CHAIN`, or accept or drop with the rule's id as comment.
// Any other verdict is foreign.
func elemDataOf(e rawElem) (elemData, error) {
	code, chain, err := verdictOf(e.val)
	if err != nil {
		return elemData{}, err
	}
	d := elemData{comment: e.comment, packets: e.packets, bytes: e.bytes}
	switch {
	case expr.VerdictKind(code) == expr.VerdictJump && chain != "":
		d.chain = chain
	case expr.VerdictKind(code) == expr.VerdictAccept && chain == "":
		d.verdict = ruleset.Accept
	case expr.VerdictKind(code) == expr.VerdictDrop && chain == "":
		d.verdict = ruleset.Drop
	default:
		return elemData{}, fmt.Errorf("map data is not `jump CHAIN`, accept or drop (verdict code %d, chain %q)", code, chain)
	}
	if d.chain != "" && d.comment != "" {
		return elemData{}, fmt.Errorf("jump %s with comment %q", d.chain, d.comment)
	}
	return d, nil
}

// verdictOf splits vmap element data, the raw nested NFTA_VERDICT_*
// attributes, into the verdict code and the chain ("" for none).
func verdictOf(b []byte) (int32, string, error) {
	var code int32
	var chain string
	seen := false
	err := eachAttr(b, func(t uint16, data []byte) error {
		switch t {
		case unix.NFTA_VERDICT_CODE:
			if len(data) != 4 {
				return fmt.Errorf("verdict code of %d bytes", len(data))
			}
			code, seen = int32(binary.BigEndian.Uint32(data)), true
		case unix.NFTA_VERDICT_CHAIN:
			chain = string(bytes.TrimRight(data, "\x00"))
		}
		return nil
	})
	if err == nil && !seen {
		err = fmt.Errorf("map data without a verdict")
	}
	return code, chain, err
}

// elemComment returns the NFTNL_UDATA_SET_ELEM_COMMENT of an element's
// userdata (type-length-value records, the string NUL-terminated).
func elemComment(b []byte) (string, error) {
	for len(b) > 0 {
		if len(b) < 2 || int(b[1]) > len(b)-2 {
			return "", fmt.Errorf("element userdata %x truncated", b)
		}
		t, v := b[0], b[2:2+int(b[1])]
		if t == 0 { // NFTNL_UDATA_SET_ELEM_COMMENT
			return string(bytes.TrimRight(v, "\x00")), nil
		}
		b = b[2+int(b[1]):]
	}
	return "", nil
}

// parseElemExprs reads an element's counter from NFTA_SET_ELEM_EXPR (one
// expression, list false) or NFTA_SET_ELEM_EXPRESSIONS (a list). An
// expression other than a counter is an error: leash's elements hold none.
func parseElemExprs(e *rawElem, b []byte, list bool) error {
	one := func(b []byte) error {
		var name string
		var data []byte
		if err := eachAttr(b, func(t uint16, d []byte) error {
			switch t {
			case unix.NFTA_EXPR_NAME:
				name = string(bytes.TrimRight(d, "\x00"))
			case unix.NFTA_EXPR_DATA:
				data = d
			}
			return nil
		}); err != nil {
			return err
		}
		if name != "counter" {
			return fmt.Errorf("element expression %q", name)
		}
		e.counter = true
		return eachAttr(data, func(t uint16, d []byte) error {
			if len(d) != 8 {
				return nil
			}
			switch t {
			case unix.NFTA_COUNTER_BYTES:
				e.bytes = binary.BigEndian.Uint64(d)
			case unix.NFTA_COUNTER_PACKETS:
				e.packets = binary.BigEndian.Uint64(d)
			}
			return nil
		})
	}
	if !list {
		return one(b)
	}
	return eachAttr(b, func(t uint16, d []byte) error {
		if t != unix.NFTA_LIST_ELEM {
			return nil
		}
		return one(d)
	})
}
