package hostrefresh

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/state"
)

// TestWithRecord: a plain apply's lookups start from the refresher's fresh
// record: DNS's answer with the record's answer and kept addresses; the
// record's alone when DNS fails; DNS alone for a name the record lacks or
// when the record is stale.
func TestWithRecord(t *testing.T) {
	dns := resolve.Static(map[string][]netip.Addr{
		"mail.example.com": addrs("192.0.2.26"),
		"new.example.com":  addrs("192.0.2.50"),
	})
	rec := &state.HostsRecord{Time: t0, Hosts: []state.HostState{
		{Name: "mail.example.com", Addrs: addrs("192.0.2.25"), Kept: []state.KeptAddr{{Addr: netip.MustParseAddr("192.0.2.24"), Gone: t0}}},
		{Name: "gone.example.com", Addrs: addrs("192.0.2.60")},
	}}
	for _, tc := range []struct {
		name string
		now  time.Time
		host string
		want []netip.Addr
		err  bool
	}{
		{name: "DNS and the record", now: t0.Add(time.Hour), host: "mail.example.com", want: addrs("192.0.2.24", "192.0.2.25", "192.0.2.26")},
		{name: "spelled with a final dot", now: t0.Add(time.Hour), host: "Mail.Example.com.", want: addrs("192.0.2.24", "192.0.2.25", "192.0.2.26")},
		{name: "DNS fails: the last good answer", now: t0.Add(time.Hour), host: "gone.example.com", want: addrs("192.0.2.60")},
		{name: "not in the record: DNS", now: t0.Add(time.Hour), host: "new.example.com", want: addrs("192.0.2.50")},
		{name: "stale record: DNS", now: t0.Add(RecordFresh), host: "mail.example.com", want: addrs("192.0.2.26")},
		{name: "stale record, DNS fails", now: t0.Add(RecordFresh), host: "gone.example.com", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := WithRecord(dns, rec, tc.now)
			got, err := r.LookupHost(context.Background(), tc.host)
			var nf *resolve.NotFoundError
			if tc.err != (err != nil) || (err != nil && !errors.As(err, &nf)) {
				t.Fatalf("err = %v, want error %t", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got, addrCmp); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			batch, _ := resolve.LookupAll(context.Background(), r, []string{tc.host})
			if diff := cmp.Diff(tc.want, batch[0].Addrs, addrCmp); diff != "" {
				t.Errorf("batch addresses (-want +got):\n%s", diff)
			}
		})
	}
}
