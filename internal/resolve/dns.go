package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/leash-dev/leash/internal/safefile"
)

// Default paths and timeout of the DNS resolver.
const (
	DefaultHostsPath      = "/etc/hosts"
	DefaultResolvConfPath = "/etc/resolv.conf"
	DefaultTimeout        = 5 * time.Second
)

// DNS resolves names from a hosts file first and then by asking DNS servers
// for A and AAAA records in parallel. Names are treated as fully qualified:
// search domains are not applied. The zero value reads /etc/hosts and
// /etc/resolv.conf.
type DNS struct {
	// HostsPath is the hosts file; "" means DefaultHostsPath. A missing
	// file is treated as empty. Set NoHosts to skip it.
	HostsPath string
	NoHosts   bool
	// Servers are "host:port" addresses to ask, in order. When empty, the
	// nameservers of ResolvConfPath are used.
	Servers []string
	// ResolvConfPath is read when Servers is empty; "" means DefaultResolvConfPath.
	ResolvConfPath string
	// Timeout bounds each query; 0 means DefaultTimeout.
	Timeout time.Duration
	// Dial, when set, opens the connections to the servers (for example
	// inside another network namespace, see NetNSDial); nil uses net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// LookupHost implements Resolver.
func (d *DNS) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, _, err := d.LookupHostTTL(ctx, host)
	return addrs, err
}

// LookupHostTTL is LookupHost that also returns the smallest TTL of the
// records used. A name answered by the hosts file has TTL 0: it does not
// expire. Errors wrap *NotFoundError when the name does not exist or has no
// addresses.
func (d *DNS) LookupHostTTL(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	if _, ok := dns.IsDomainName(host); !ok || host == "" {
		return nil, 0, fmt.Errorf("resolve: %q is not a valid domain name", host)
	}
	if addrs, err := d.fromHosts(host); err != nil || len(addrs) > 0 {
		return addrs, 0, err
	}
	servers, err := d.servers()
	if err != nil {
		return nil, 0, err
	}
	var (
		wg      sync.WaitGroup
		results [2]answer
	)
	for i, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		wg.Go(func() { results[i] = d.query(ctx, servers, host, qtype) })
	}
	wg.Wait()
	return merge(host, results[:])
}

// answer is the outcome of one query.
type answer struct {
	addrs    []netip.Addr
	ttl      uint32
	nxdomain bool
	err      error
}

// merge combines the A and AAAA answers: any hard error wins, then
// NXDOMAIN, then "no records".
func merge(host string, results []answer) ([]netip.Addr, time.Duration, error) {
	var (
		addrs []netip.Addr
		ttl   uint32
		nx    bool
		errs  []error
	)
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
		}
		nx = nx || r.nxdomain
		if len(r.addrs) > 0 && (len(addrs) == 0 || r.ttl < ttl) {
			ttl = r.ttl
		}
		addrs = append(addrs, r.addrs...)
	}
	switch {
	case len(errs) > 0:
		return nil, 0, fmt.Errorf("resolve %s: %w", host, errors.Join(errs...))
	case nx:
		return nil, 0, fmt.Errorf("resolve: %w", &NotFoundError{Host: host, Reason: "no such host (NXDOMAIN)"})
	case len(addrs) == 0:
		return nil, 0, fmt.Errorf("resolve: %w", &NotFoundError{Host: host, Reason: "no A or AAAA records"})
	}
	return sortUnique(addrs), time.Duration(ttl) * time.Second, nil
}

// fromHosts looks host up in the hosts file.
func (d *DNS) fromHosts(host string) ([]netip.Addr, error) {
	if d.NoHosts {
		return nil, nil
	}
	path := d.HostsPath
	if path == "" {
		path = DefaultHostsPath
	}
	src, err := safefile.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	addrs, err := parseHosts(bytes.NewReader(src), host)
	if err != nil {
		return nil, fmt.Errorf("resolve: %s: %w", path, err)
	}
	return addrs, nil
}

// servers returns the servers to ask, as host:port.
func (d *DNS) servers() ([]string, error) {
	if len(d.Servers) > 0 {
		return d.Servers, nil
	}
	path := d.ResolvConfPath
	if path == "" {
		path = DefaultResolvConfPath
	}
	src, err := safefile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	conf, err := dns.ClientConfigFromReader(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("resolve: %s: %w", path, err)
	}
	if len(conf.Servers) == 0 {
		return nil, fmt.Errorf("resolve: %s lists no nameserver", path)
	}
	out := make([]string, len(conf.Servers))
	for i, s := range conf.Servers {
		out[i] = net.JoinHostPort(s, conf.Port)
	}
	return out, nil
}

// query asks each server in turn for host's records of qtype until one
// answers with NOERROR or NXDOMAIN.
func (d *DNS) query(ctx context.Context, servers []string, host string, qtype uint16) answer {
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(host), qtype)
	msg.RecursionDesired = true
	var errs []error
	for _, server := range servers {
		resp, err := d.exchange(ctx, msg, server)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", dns.TypeToString[qtype], server, err))
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			return records(resp, qtype)
		case dns.RcodeNameError:
			return answer{nxdomain: true}
		}
		errs = append(errs, fmt.Errorf("%s %s: server answered %s", dns.TypeToString[qtype], server, dns.RcodeToString[resp.Rcode]))
	}
	return answer{err: errors.Join(errs...)}
}

// exchange sends msg over UDP and retries over TCP when the answer is truncated.
func (d *DNS) exchange(ctx context.Context, msg *dns.Msg, server string) (*dns.Msg, error) {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	resp, err := d.exchangeNet(ctx, msg, server, "udp", timeout)
	if err == nil && resp.Truncated {
		resp, err = d.exchangeNet(ctx, msg, server, "tcp", timeout)
	}
	return resp, err
}

func (d *DNS) exchangeNet(ctx context.Context, msg *dns.Msg, server, network string, timeout time.Duration) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: timeout}
	if d.Dial == nil {
		resp, _, err := c.ExchangeContext(ctx, msg, server)
		return resp, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.Dial(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, _, err := c.ExchangeWithConnContext(ctx, msg, &dns.Conn{Conn: conn})
	return resp, err
}

// records collects the addresses of qtype in resp's answer section (the
// server has followed any CNAME chain) and their smallest TTL.
func records(resp *dns.Msg, qtype uint16) answer {
	var a answer
	for _, rr := range resp.Answer {
		var ip net.IP
		switch r := rr.(type) {
		case *dns.A:
			ip = r.A
		case *dns.AAAA:
			ip = r.AAAA
		}
		addr, ok := netip.AddrFromSlice(ip)
		if ip == nil || !ok || rr.Header().Rrtype != qtype {
			continue
		}
		if len(a.addrs) == 0 || rr.Header().Ttl < a.ttl {
			a.ttl = rr.Header().Ttl
		}
		a.addrs = append(a.addrs, addr.Unmap())
	}
	return a
}
