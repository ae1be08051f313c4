package nft

import (
	"testing"

	"github.com/google/nftables/expr"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   []expr.Any
		want string
	}{
		{name: "verdict", ex: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}, want: "[ immediate reg 0 accept ]"},
		{name: "jump", ex: []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictJump, Chain: "p_web"}},
			want: "[ counter pkts 0 bytes 0 ] [ immediate reg 0 jump p_web ]"},
		{name: "lookup", ex: []expr.Any{&expr.Meta{Key: expr.MetaKeySKUID, Register: 1}, &expr.Lookup{SourceRegister: 1, SetName: "u"}},
			want: "[ meta load 10 => reg 1 ] [ lookup reg 1 set u ]"},
		{name: "bounded", ex: []expr.Any{&expr.Counter{}, &expr.Counter{}, &expr.Counter{}, &expr.Counter{}, &expr.Counter{}},
			want: "[ counter pkts 0 bytes 0 ] [ counter pkts 0 bytes 0 ] [ counter pkts 0 bytes 0 ] [ counter pkts 0 bytes 0 ] ..."},
		{name: "other", ex: []expr.Any{&expr.Quota{}}, want: "[ Quota ]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(tc.ex); got != tc.want {
				t.Errorf("describe = %q, want %q", got, tc.want)
			}
		})
	}
}
