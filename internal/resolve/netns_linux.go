package resolve

import (
	"context"
	"net/netip"

	"github.com/leash-dev/leash/internal/netns"
)

// InNetNS returns a Resolver that sends r's queries from inside the network
// namespace /run/netns/NAME (a socket belongs to the namespace of the thread
// that creates it).
func InNetNS(name string, r Resolver) Resolver { return nsResolver{ns: name, r: r} }

type nsResolver struct {
	ns string
	r  Resolver
}

func (n nsResolver) LookupHost(ctx context.Context, host string) (addrs []netip.Addr, err error) {
	ns, err := netns.Open(n.ns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	err = ns.Do(func() error {
		addrs, err = n.r.LookupHost(ctx, host)
		return err
	})
	return addrs, err
}
