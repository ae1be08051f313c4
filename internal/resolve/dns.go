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
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/leash-dev/leash/internal/safefile"
)

// Default paths, limits and parallelism of the DNS resolver.
const (
	DefaultHostsPath      = "/etc/hosts"
	DefaultResolvConfPath = "/etc/resolv.conf"
	// DefaultTimeout bounds one try, as resolv.conf's timeout does.
	DefaultTimeout = 5 * time.Second
	// DefaultDeadline bounds a whole LookupAll (and each LookupHost).
	DefaultDeadline = 30 * time.Second
	// DefaultParallel is how many names LookupAll looks up at once (each
	// with an A and an AAAA query in flight).
	DefaultParallel = 64
)

// DNS resolves names from a hosts file first and then by asking DNS servers
// for A and AAAA records in parallel. Names are treated as fully qualified:
// search domains are not applied. The zero value reads /etc/hosts and
// /etc/resolv.conf. A DNS must not be copied after first use.
//
// Servers are asked the way glibc asks them: for up to `attempts` rounds,
// each server in turn (from the first, or, with rotate, from the next one
// each query) gets one try of at most `timeout`; a lost datagram, a timeout,
// a refused connection or an error code (SERVFAIL, REFUSED, ...) moves on to
// the next server; a truncated UDP answer is asked again over TCP. Unlike
// glibc, once a server has answered, later queries of this DNS start with
// it: a dead first nameserver costs one timeout per batch, not per name.
type DNS struct {
	// HostsPath is the hosts file; "" means DefaultHostsPath. A missing
	// file is treated as empty. Set NoHosts to skip it.
	HostsPath string
	NoHosts   bool
	// EthersPath is the ethers file (MAC addresses of LAN host names, for
	// `hosts:`); "" means DefaultEthersPath. NoHosts skips it too.
	EthersPath string
	// Servers are "host:port" addresses to ask, in order. When empty, the
	// nameservers of ResolvConfPath are used (the first three, like glibc),
	// with its options timeout:N, attempts:N and rotate.
	Servers []string
	// ResolvConfPath is read when Servers is empty; "" means DefaultResolvConfPath.
	ResolvConfPath string
	// Timeout bounds each try; 0 means resolv.conf's timeout, else
	// DefaultTimeout.
	Timeout time.Duration
	// Attempts is the number of rounds over the servers; 0 means
	// resolv.conf's attempts, else 2.
	Attempts int
	// Rotate spreads queries over the servers (also set by resolv.conf's
	// options rotate).
	Rotate bool
	// Deadline bounds a whole LookupAll, and each LookupHost; 0 means
	// DefaultDeadline. It is leash's --dns-timeout.
	Deadline time.Duration
	// Parallel is how many names LookupAll looks up at once; 0 means
	// DefaultParallel.
	Parallel int
	// Dial, when set, opens the connections to the servers (for example
	// inside another network namespace, see NetNSDial); nil uses net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)

	// mu guards the configuration read from resolv.conf, read again
	// whenever the file changed (a long-running daemon follows DHCP or
	// NetworkManager rewriting it): seen is the file as it was read.
	mu      sync.Mutex
	loaded  bool
	seen    os.FileInfo
	conf    config
	confErr error
	// turn counts queries, for rotate.
	turn atomic.Uint32
	// first is the server index queries start with when not rotating: the
	// last one that answered.
	first atomic.Uint32
}

// LookupHost implements Resolver.
func (d *DNS) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, _, err := d.LookupHostTTL(ctx, host)
	return addrs, err
}

// LookupAll implements BatchResolver: it looks hosts up, d.Parallel at a
// time, all within one d.Deadline, and returns one result per host. The
// error, when not nil, sums up the hosts that got no answer from any server
// (at least two of them): how many, and what every server did.
func (d *DNS) LookupAll(ctx context.Context, hosts []string) ([]Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.deadline())
	defer cancel()
	parallel := d.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	results := lookupEach(ctx, d, hosts, parallel)
	return results, summarize(results)
}

// LookupHostTTL is LookupHost that also returns the smallest TTL of the
// records used. A name answered by the hosts file has TTL 0: it does not
// expire. Errors wrap *NotFoundError when the name does not exist or has no
// addresses, and *NoAnswerError when no server answered.
func (d *DNS) LookupHostTTL(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	if _, ok := dns.IsDomainName(host); !ok || host == "" {
		return nil, 0, fmt.Errorf("resolve: %q is not a valid domain name", host)
	}
	if addrs, err := d.fromHosts(host); err != nil || len(addrs) > 0 {
		return addrs, 0, err
	}
	conf, err := d.config()
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.deadline())
	defer cancel()
	var (
		wg      sync.WaitGroup
		results [2]answer
	)
	for i, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		wg.Go(func() { results[i] = d.query(ctx, conf, host, qtype) })
	}
	wg.Wait()
	return d.merge(host, results[:])
}

// deadline is d.Deadline or its default.
func (d *DNS) deadline() time.Duration {
	if d.Deadline > 0 {
		return d.Deadline
	}
	return DefaultDeadline
}

// config reads the configuration once.
func (d *DNS) config() (config, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fi := d.resolvConfInfo()
	if !d.loaded || !sameFile(fi, d.seen) {
		d.conf, d.confErr = d.loadConfig()
		d.loaded, d.seen = true, fi
		d.first.Store(0) // the servers may have changed
	}
	return d.conf, d.confErr
}

// resolvConfInfo is the stat of the resolv.conf d reads (followed through
// symlinks, as it is read); nil with explicit Servers, which no file
// changes, or when it cannot be read (loadConfig says why).
func (d *DNS) resolvConfInfo() os.FileInfo {
	if len(d.Servers) > 0 {
		return nil
	}
	path := d.ResolvConfPath
	if path == "" {
		path = DefaultResolvConfPath
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return fi
}

// sameFile reports whether a and b (either may be nil) are the same file
// with the same size and modification time: a rewrite or a rename over it
// changes one of these.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// answer is the outcome of one query.
type answer struct {
	addrs    []netip.Addr
	ttl      uint32
	nxdomain bool
	// noAnswer says that no server answered; failures say why, cut that
	// the deadline ran out first.
	noAnswer bool
	failures []ServerFailure
	cut      bool
	// err is any other error (the context was cancelled).
	err error
}

// merge combines the A and AAAA answers: any error wins (a name half
// resolved is not resolved), then NXDOMAIN, then "no records".
func (d *DNS) merge(host string, results []answer) ([]netip.Addr, time.Duration, error) {
	var (
		addrs []netip.Addr
		ttl   uint32
		nx    bool
		errs  []error
		none  *NoAnswerError
	)
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
		}
		if r.noAnswer {
			if none == nil {
				none = &NoAnswerError{Host: host}
			}
			none.Failures = mergeFailures(none.Failures, r.failures)
			if r.cut {
				none.Deadline = d.deadline()
			}
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
	case none != nil:
		return nil, 0, fmt.Errorf("resolve: %w", none)
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
	src, err := safefile.Read(path) // a regular file of bounded size, never a FIFO
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
