package nft

import (
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
)

// describe prints expressions for error and drift messages in the words of
// `nft --debug=netlink` ("[ meta load skuid => reg 1 ]"), at most four.
func describe(ex []expr.Any) string {
	var parts []string
	for i, e := range ex {
		if i == 4 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, "[ "+exprText(e)+" ]")
	}
	return strings.Join(parts, " ")
}

// exprText is one expression in netlink-debug words; kinds leash does not
// write are named by their type.
func exprText(e expr.Any) string {
	switch e := e.(type) {
	case *foreignExpr:
		return e.name
	case *expr.Verdict:
		return verdictWord(e)
	case *expr.Meta:
		return fmt.Sprintf("meta load %d => reg %d", e.Key, e.Register)
	case *expr.Payload:
		return fmt.Sprintf("payload load %db @ base %d + %d => reg %d", e.Len, e.Base, e.Offset, e.DestRegister)
	case *expr.Cmp:
		return fmt.Sprintf("cmp op %d reg %d 0x%x", e.Op, e.Register, e.Data)
	case *expr.Lookup:
		if e.IsDestRegSet {
			return fmt.Sprintf("lookup reg %d set %s dreg %d", e.SourceRegister, e.SetName, e.DestRegister)
		}
		return fmt.Sprintf("lookup reg %d set %s", e.SourceRegister, e.SetName)
	case *expr.Bitwise:
		return fmt.Sprintf("bitwise reg %d = (reg %d & 0x%x) ^ 0x%x", e.DestRegister, e.SourceRegister, e.Mask, e.Xor)
	case *expr.Counter:
		return fmt.Sprintf("counter pkts %d bytes %d", e.Packets, e.Bytes)
	case *expr.Immediate:
		return fmt.Sprintf("immediate reg %d 0x%x", e.Register, e.Data)
	case *expr.Reject:
		return fmt.Sprintf("reject type %d code %d", e.Type, e.Code)
	case *expr.Limit:
		return fmt.Sprintf("limit rate %d/%d burst %d", e.Rate, e.Unit, e.Burst)
	case *expr.Log:
		return fmt.Sprintf("log group %d prefix %q", e.Group, e.Data)
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr.")
}

// verdictWord is a verdict as nft prints it: "accept", "jump p_web".
func verdictWord(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "immediate reg 0 accept"
	case expr.VerdictDrop:
		return "immediate reg 0 drop"
	case expr.VerdictJump:
		return "immediate reg 0 jump " + v.Chain
	case expr.VerdictGoto:
		return "immediate reg 0 goto " + v.Chain
	case expr.VerdictReturn:
		return "immediate reg 0 return"
	case expr.VerdictContinue:
		return "immediate reg 0 continue"
	}
	return fmt.Sprintf("immediate reg 0 verdict %d", v.Kind)
}
