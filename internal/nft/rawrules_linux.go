package nft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rawRule is one rule as dumped by the kernel. Unlike the library's
// GetRules, the raw dump keeps expressions the library cannot parse (the
// library drops unknown expressions silently and fails on byteorder): those
// are recorded by name in foreign so that the decoder can report them.
type rawRule struct {
	chain    string
	handle   uint64
	userdata []byte
	exprs    []expr.Any
	foreign  []string // names of expressions leash does not use
}

// errNoTable reports that the table does not exist.
var errNoTable = errors.New("table does not exist")

// dumpRules dumps every rule of `table inet leash`, in chain and rule order.
// nft equivalent: `nft --debug=netlink list table inet leash` (rules part).
// It receives in dumpBufSize batches: the kernel resumes each batch of a
// rule dump by walking the table's chains and rules from the first
// (__nf_tables_dump_rules), so one-page batches made reading 200,000 rules
// quadratic with a constant 8 times larger.
func (c *Conn) dumpRules() ([]rawRule, error) {
	var out []rawRule
	filter := []netlink.Attribute{tableFilter(unix.NFTA_RULE_TABLE)}
	err := c.dumpObjects(unix.NFT_MSG_GETRULE, unix.NFT_MSG_NEWRULE, unix.NFPROTO_INET, filter, func(_ byte, attrs []byte) error {
		r, err := parseRule(attrs)
		out = append(out, r)
		return err
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, errNoTable
	}
	if err != nil {
		return nil, fmt.Errorf("dump rules: %w", err)
	}
	return out, nil
}

// parseRule decodes the attributes of one NFT_MSG_NEWRULE message.
func parseRule(b []byte) (rawRule, error) {
	var r rawRule
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return r, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_CHAIN:
			r.chain = ad.String()
		case unix.NFTA_RULE_HANDLE:
			r.handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			r.userdata = ad.Bytes()
		case unix.NFTA_RULE_EXPRESSIONS:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					nad.Nested(r.parseExpr)
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return r, fmt.Errorf("chain %s handle %d: %w", r.chain, r.handle, err)
	}
	return r, nil
}

// parseExpr decodes one NFTA_LIST_ELEM of a rule's expression list.
func (r *rawRule) parseExpr(ad *netlink.AttributeDecoder) error {
	var name string
	var data []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_EXPR_NAME:
			name = ad.String()
		case unix.NFTA_EXPR_DATA:
			data = ad.Bytes()
		}
	}
	e, err := unmarshalExpr(name, data)
	if err != nil {
		return fmt.Errorf("expression %q: %w", name, err)
	}
	if e == nil {
		r.foreign = append(r.foreign, name)
		r.exprs = append(r.exprs, &foreignExpr{name: name})
		return nil
	}
	r.exprs = append(r.exprs, e)
	return nil
}

// foreignExpr stands for an expression leash never generates.
type foreignExpr struct {
	expr.Any
	name string
}

// unmarshalExpr parses the expressions leash generates; it returns nil for
// any other expression name.
func unmarshalExpr(name string, data []byte) (expr.Any, error) {
	var e expr.Any
	switch name {
	case "meta":
		e = &expr.Meta{}
	case "cmp":
		e = &expr.Cmp{}
	case "payload":
		e = &expr.Payload{}
	case "lookup":
		e = &expr.Lookup{}
	case "counter":
		e = &expr.Counter{}
	case "ct":
		e = &expr.Ct{}
	case "bitwise":
		e = &expr.Bitwise{}
	case "reject":
		e = &expr.Reject{}
	case "limit":
		e = &expr.Limit{}
	case "exthdr":
		e = &expr.Exthdr{}
	case "log":
		e = &expr.Log{}
	case "socket":
		e = &expr.Socket{}
	case "dynset": // meters (meter_linux.go)
		e = &expr.Dynset{}
	case "byteorder":
		return unmarshalByteorder(data)
	case "immediate":
		return unmarshalImmediate(data)
	default:
		return nil, nil
	}
	return e, expr.Unmarshal(byte(unix.NFPROTO_INET), data, e)
}

// unmarshalImmediate parses an immediate; one loading the verdict register
// is a verdict (accept, drop, jump, goto).
func unmarshalImmediate(data []byte) (expr.Any, error) {
	imm := &expr.Immediate{}
	if err := expr.Unmarshal(byte(unix.NFPROTO_INET), data, imm); err != nil {
		return nil, err
	}
	if imm.Register != unix.NFT_REG_VERDICT || len(imm.Data) != 0 {
		return imm, nil
	}
	v := &expr.Verdict{}
	return v, expr.Unmarshal(byte(unix.NFPROTO_INET), data, v)
}

// unmarshalByteorder parses a byteorder expression (the library's
// Byteorder.unmarshal is not implemented).
func unmarshalByteorder(data []byte) (expr.Any, error) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	e := &expr.Byteorder{}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_BYTEORDER_SREG:
			e.SourceRegister = ad.Uint32()
		case unix.NFTA_BYTEORDER_DREG:
			e.DestRegister = ad.Uint32()
		case unix.NFTA_BYTEORDER_OP:
			e.Op = expr.ByteorderOp(ad.Uint32())
		case unix.NFTA_BYTEORDER_LEN:
			e.Len = ad.Uint32()
		case unix.NFTA_BYTEORDER_SIZE:
			e.Size = ad.Uint32()
		}
	}
	return e, ad.Err()
}
