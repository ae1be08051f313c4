package resolve

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/leash-dev/leash/internal/safefile"
)

// Limits and defaults of resolv.conf(5), as glibc applies them: at most
// three nameservers (MAXNS), timeout at most 30 s (RES_MAXRETRANS),
// attempts at most 5 (RES_MAXRETRY); timeout 5 s and 2 attempts by default.
const (
	maxServers      = 3
	maxTimeout      = 30 * time.Second
	maxAttempts     = 5
	defaultAttempts = 2
)

// config is how one DNS value asks its servers.
type config struct {
	// servers are host:port, in the order to try them.
	servers []string
	// timeout bounds one try (one datagram, or one TCP exchange).
	timeout time.Duration
	// attempts is the number of rounds over all servers.
	attempts int
	// rotate starts each query at the next server instead of the first.
	rotate bool
}

// parseResolvConf reads resolv.conf(5) content with miekg/dns's parser
// (nameserver, options timeout:N attempts:N) and adds what that parser leaves
// out: `options rotate` and glibc's limits (the first three nameservers
// only, timeout and attempts capped).
func parseResolvConf(content []byte) (config, error) {
	cc, err := dns.ClientConfigFromReader(bytes.NewReader(content))
	if err != nil {
		return config{}, err
	}
	c := config{
		timeout:  min(time.Duration(cc.Timeout)*time.Second, maxTimeout),
		attempts: min(cc.Attempts, maxAttempts),
		rotate:   hasRotate(content),
	}
	for _, s := range cc.Servers[:min(len(cc.Servers), maxServers)] {
		c.servers = append(c.servers, net.JoinHostPort(s, cc.Port))
	}
	return c, nil
}

// hasRotate reports whether an `options` line of resolv.conf content says
// rotate.
func hasRotate(content []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 1 && f[0] == "options" && slices.Contains(f[1:], "rotate") {
			return true
		}
	}
	return false
}

// loadConfig builds the configuration of d: its Servers, or else the
// nameservers and options of its resolv.conf; then d's Timeout, Attempts
// and Rotate override what they set.
func (d *DNS) loadConfig() (config, error) {
	c := config{servers: d.Servers, timeout: DefaultTimeout, attempts: defaultAttempts}
	if len(d.Servers) == 0 {
		path := d.ResolvConfPath
		if path == "" {
			path = DefaultResolvConfPath
		}
		content, err := safefile.Read(path)
		if err != nil {
			return config{}, fmt.Errorf("resolve: %w", err)
		}
		if c, err = parseResolvConf(content); err != nil {
			return config{}, fmt.Errorf("resolve: %s: %w", path, err)
		}
		if len(c.servers) == 0 {
			return config{}, fmt.Errorf("resolve: %s lists no nameserver", path)
		}
	}
	if d.Timeout > 0 {
		c.timeout = d.Timeout
	}
	if d.Attempts > 0 {
		c.attempts = d.Attempts
	}
	c.rotate = c.rotate || d.Rotate
	return c, nil
}
