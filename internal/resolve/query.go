package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// query asks for host's records of qtype: conf.attempts rounds over the
// servers, one try of conf.timeout each, until one answers NOERROR or
// NXDOMAIN or ctx ends.
func (d *DNS) query(ctx context.Context, conf config, host string, qtype uint16) answer {
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(host), qtype)
	msg.RecursionDesired = true
	n := len(conf.servers)
	start := d.firstServer(conf)
	var fails []ServerFailure
	for range conf.attempts {
		for i := range n {
			if ctx.Err() != nil {
				return ended(ctx, fails)
			}
			k := (start + i) % n
			server := conf.servers[k]
			resp, why := d.exchange(ctx, msg, server, conf.timeout)
			switch {
			case why != "":
			case resp.Rcode == dns.RcodeSuccess:
				d.first.Store(uint32(k))
				return records(resp, qtype)
			case resp.Rcode == dns.RcodeNameError:
				d.first.Store(uint32(k))
				return answer{nxdomain: true}
			default:
				why = rcodeName(resp.Rcode)
			}
			fails = addFailure(fails, server, why)
		}
	}
	if ctx.Err() != nil {
		return ended(ctx, fails)
	}
	return answer{noAnswer: true, failures: fails}
}

// rcodeName names a response code: "SERVFAIL", "REFUSED", ... or "rcode N".
func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rcode)
}

// ended is the answer of a query whose context ended: cut short by the
// deadline, or cancelled.
func ended(ctx context.Context, fails []ServerFailure) answer {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return answer{noAnswer: true, failures: fails, cut: true}
	}
	return answer{err: context.Cause(ctx)}
}

// firstServer is the index of the server a query starts with: the next
// one in turn with rotate, else the last one that answered.
func (d *DNS) firstServer(conf config) int {
	n := uint32(len(conf.servers))
	if conf.rotate {
		return int((d.turn.Add(1) - 1) % n)
	}
	return int(d.first.Load() % n)
}

// exchange is one try at server: over UDP, then over TCP when the answer is
// truncated. A failure comes back as a reason ("timeout", "TCP connection
// refused", ...), never with a response.
func (d *DNS) exchange(ctx context.Context, msg *dns.Msg, server string, timeout time.Duration) (*dns.Msg, string) {
	resp, err := d.exchangeNet(ctx, msg, server, "udp", timeout)
	if err != nil {
		return nil, reason(err)
	}
	if !resp.Truncated {
		return resp, ""
	}
	if resp, err = d.exchangeNet(ctx, msg, server, "tcp", timeout); err != nil {
		return nil, "TCP " + reason(err)
	}
	return resp, ""
}

// exchangeNet sends msg to server over network and waits at most timeout
// (less if ctx ends first) for the answer to that question.
func (d *DNS) exchangeNet(ctx context.Context, msg *dns.Msg, server, network string, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// miekg/dns only looks at ctx's deadline: a cancel must wake the read.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := &dns.Client{Net: network, Timeout: timeout}
	resp, _, err := c.ExchangeWithConnContext(ctx, msg, &dns.Conn{Conn: conn})
	if err != nil {
		return nil, err
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, msg.Question[0].Name) ||
		resp.Question[0].Qtype != msg.Question[0].Qtype {
		return nil, fmt.Errorf("the answer is for another question")
	}
	return resp, nil
}
