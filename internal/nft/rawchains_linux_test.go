package nft

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestParseChain decodes NFT_MSG_NEWCHAIN payloads as the kernel sends them
// (big-endian numbers, a nested hook) into the fields decodeChain reads.
func TestParseChain(t *testing.T) {
	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	hook := func(num uint32, prio int32, dev string) []byte {
		ae := netlink.NewAttributeEncoder()
		ae.Bytes(unix.NFTA_HOOK_HOOKNUM, be(num))
		ae.Bytes(unix.NFTA_HOOK_PRIORITY, be(uint32(prio)))
		if dev != "" {
			ae.String(unix.NFTA_HOOK_DEV, dev)
		}
		b, err := ae.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type want struct {
		Table, Name, Type string
		Hook              *uint32
		Priority          *int32
		Policy            *uint32
	}
	u32 := func(v uint32) *uint32 { return &v }
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name  string
		attrs []netlink.Attribute
		want  want
	}{
		{
			name: "regular chain",
			attrs: []netlink.Attribute{
				{Type: unix.NFTA_CHAIN_TABLE, Data: []byte("leash\x00")},
				{Type: unix.NFTA_CHAIN_NAME, Data: []byte("p_web\x00")},
			},
			want: want{Table: "leash", Name: "p_web"},
		},
		{
			name: "base chain at a negative priority",
			attrs: []netlink.Attribute{
				{Type: unix.NFTA_CHAIN_TABLE, Data: []byte("leash\x00")},
				{Type: unix.NFTA_CHAIN_NAME, Data: []byte("output\x00")},
				{Type: unix.NFTA_CHAIN_HOOK | unix.NLA_F_NESTED, Data: hook(3, -150, "")},
				{Type: unix.NFTA_CHAIN_POLICY, Data: be(1)},
				{Type: unix.NFTA_CHAIN_TYPE, Data: []byte("filter\x00")},
			},
			want: want{Table: "leash", Name: "output", Type: "filter", Hook: u32(3), Priority: i32(-150), Policy: u32(1)},
		},
		{
			name: "a device in the hook is skipped",
			attrs: []netlink.Attribute{
				{Type: unix.NFTA_CHAIN_TABLE, Data: []byte("other\x00")},
				{Type: unix.NFTA_CHAIN_NAME, Data: []byte("in\x00")},
				{Type: unix.NFTA_CHAIN_HOOK | unix.NLA_F_NESTED, Data: hook(0, 0, "mc0")},
			},
			want: want{Table: "other", Name: "in", Hook: u32(0), Priority: i32(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := netlink.MarshalAttributes(tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			ch, err := parseChain(nftables.TableFamilyINet, b)
			if err != nil {
				t.Fatalf("parseChain: %v", err)
			}
			got := want{Table: ch.Table.Name, Name: ch.Name, Type: string(ch.Type)}
			if ch.Hooknum != nil {
				got.Hook = u32(uint32(*ch.Hooknum))
			}
			if ch.Priority != nil {
				got.Priority = i32(int32(*ch.Priority))
			}
			if ch.Policy != nil {
				got.Policy = u32(uint32(*ch.Policy))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("parseChain (-want +got):\n%s", d)
			}
			if ch.Table.Family != nftables.TableFamilyINet {
				t.Errorf("family %v, want inet", ch.Table.Family)
			}
		})
	}
}
