package nft

import (
	"encoding/binary"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// cgroupMapText is the flat cgroup dispatch of issue 15's follow-up: one
// live verdict map per level, keyed by `socket cgroupv2 level N` (8 bytes,
// host byte order), looked up by one rule whatever the number of program
// policies. nft's text names cgroupsv2 elements by path, so the map is
// empty here; its elements go in by netlink (cgroupMapByNetlink).
const cgroupMapText = `table inet leash {
	map cgmap2 {
		type cgroupsv2 : verdict
		comment "cgroups:governed:2"
	}

	chain p_web {
		drop
	}

	chain output {
		type filter hook output priority filter; policy accept;
		socket cgroupv2 level 2 vmap @cgmap2
	}
}
`

// cgroupMapByNetlink loads cgroupMapText through google/nftables, the
// encoding leash's Apply would use: a map with IsMap, KeyType
// TypeCGroupV2 in host byte order, DataType TypeVerdict and the Source as
// comment; the rule a socket load into register 1 and a lookup with a
// verdict destination register. elems are cgroup ids to jump to p_web.
func cgroupMapByNetlink(t *testing.T, nc *nftables.Conn, elems ...uint64) {
	t.Helper()
	tb := nc.AddTable(table())
	m := &nftables.Set{Table: tb, Name: "cgmap2", IsMap: true, KeyType: nftables.TypeCGroupV2,
		KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict, Comment: "cgroups:governed:2"}
	var es []nftables.SetElement
	for _, id := range elems {
		es = append(es, nftables.SetElement{Key: binary.NativeEndian.AppendUint64(nil, id),
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "p_web"}})
	}
	if err := nc.AddSet(m, es); err != nil { // before the chains, as nft -f numbers handles
		t.Fatal(err)
	}
	web := nc.AddChain(&nftables.Chain{Table: tb, Name: "p_web"})
	accept := nftables.ChainPolicyAccept
	out := nc.AddChain(&nftables.Chain{Table: tb, Name: "output", Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	nc.AddRule(&nftables.Rule{Table: tb, Chain: web, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
	nc.AddRule(&nftables.Rule{Table: tb, Chain: out, Exprs: []expr.Any{
		&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: 2, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: m.Name, SetID: m.ID, DestRegister: 0, IsDestRegSet: true},
	}})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

var cgroupElemRE = regexp.MustCompile(`(?m)^\s*elements = .*\n`)

// TestCgroupMapTextEquivalence: the kernel and google/nftables take a
// verdict map keyed by `socket cgroupv2 level N`, nft -f of its text and
// the netlink encoding are the same kernel objects, and elements `ID :
// jump CHAIN` added by netlink read back with their key and verdict.
func TestCgroupMapTextEquivalence(t *testing.T) {
	nsA, _ := newNS(t)
	nsB, _ := newNS(t)
	inNS(t, nsA, cgroupMapText, "nft", "-f", "-")
	nc, err := nftables.New(nftables.WithNetNSFd(nsB.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	cgroupMapByNetlink(t, nc)
	if diff := cmp.Diff(list(t, nsA), list(t, nsB)); diff != "" {
		t.Errorf("nft list (-nft -f +netlink):\n%s", diff)
	}
	wantNL := inNS(t, nsA, "", "nft", "--debug=netlink", "list", "table", "inet", "leash")
	gotNL := inNS(t, nsB, "", "nft", "--debug=netlink", "list", "table", "inet", "leash")
	if diff := cmp.Diff(wantNL, gotNL); diff != "" {
		t.Errorf("nft --debug=netlink list (-nft -f +netlink):\n%s", diff)
	}

	// Live elements: add two by netlink, delete one, read back.
	tb := table()
	m, err := nc.GetSetByName(tb, "cgmap2")
	if err != nil {
		t.Fatal(err)
	}
	el := func(id uint64) nftables.SetElement {
		return nftables.SetElement{Key: binary.NativeEndian.AppendUint64(nil, id),
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "p_web"}}
	}
	if err := nc.SetAddElements(m, []nftables.SetElement{el(1<<40 + 7), el(42)}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.SetDeleteElements(m, []nftables.SetElement{{Key: binary.NativeEndian.AppendUint64(nil, 42)}}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := nc.GetSetElements(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || binary.NativeEndian.Uint64(got[0].Key) != 1<<40+7 {
		t.Fatalf("elements read back: %+v, want one, 1<<40+7 : jump p_web", got)
	}
	// The library leaves a map element's verdict undecoded (Val): jumpChain
	// decodes it, as for the uid maps.
	if chain, err := jumpChain(got[0].Val); err != nil || chain != "p_web" {
		t.Errorf("element verdict read back: %q, %v; want jump p_web", chain, err)
	}
	if !m.IsMap || m.DataType.Name != nftables.TypeVerdict.Name || m.Comment != "cgroups:governed:2" {
		t.Errorf("map read back: IsMap %v, data %q, comment %q", m.IsMap, m.DataType.Name, m.Comment)
	}
	// With the elements, the text listing differs from the empty map only
	// by its element line (nft prints an id it cannot resolve as a number).
	if diff := cmp.Diff(list(t, nsA), cgroupElemRE.ReplaceAllString(list(t, nsB), "")); diff != "" {
		t.Errorf("nft list with elements, element line removed (-nft -f +netlink):\n%s", diff)
	}
	t.Logf("with elements:\n%s", list(t, nsB))
}
