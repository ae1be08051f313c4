package denylog

import (
	"fmt"
	"os"
	"strings"

	"github.com/leash-dev/leash/internal/netns"
)

// unspecLoggerSysctl is the namespace's logger for NFPROTO_UNSPEC
// (net.netfilter.nf_log.0). go-nflog's Register sends the obsolete
// NFULNL_CFG_CMD_PF_UNBIND and PF_BIND commands for AF_UNSPEC, which bind
// nfnetlink_log there, and the binding outlives the socket.
const unspecLoggerSysctl = "/proc/sys/net/netfilter/nf_log/0"

// loggerBinding is the NFPROTO_UNSPEC logger of a namespace as it was
// before a reader bound its group.
type loggerBinding struct {
	netns string // "" is the current namespace
	name  string // as the sysctl reads: "NONE" or a logger's name
}

// saveLoggerBinding reads the NFPROTO_UNSPEC logger of the named namespace
// ("" the current one).
func saveLoggerBinding(ns string) (*loggerBinding, error) {
	b := &loggerBinding{netns: ns}
	err := netns.DoIn(ns, func() error {
		v, err := os.ReadFile(unspecLoggerSysctl)
		b.name = strings.TrimSpace(string(v))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("denylog: read the NFPROTO_UNSPEC logger: %w", err)
	}
	return b, nil
}

// restore writes the saved logger back ("NONE" unbinds), so that reading
// a log group leaves the namespace's logger settings as they were.
// Idempotent.
func (b *loggerBinding) restore() error {
	err := netns.DoIn(b.netns, func() error {
		return os.WriteFile(unspecLoggerSysctl, []byte(b.name), 0)
	})
	if err != nil {
		return fmt.Errorf("denylog: restore the NFPROTO_UNSPEC logger %q: %w", b.name, err)
	}
	return nil
}
