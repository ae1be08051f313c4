package denylog

import (
	"fmt"
	"strings"

	"github.com/leash-dev/leash/internal/termtext"
)

// Forwarded denials (docs/policy.md "Hosts and interfaces") have no socket:
// the log names the host instead, by its source address, its MAC and the
// interface it came in on, in the USER column:
//
//	host(192.168.1.10,02:00:00:c8:01:0a,in=lan0)
func formatHost(e *Event) string {
	parts := []string{e.Src.Addr().String()}
	if e.MAC != "" {
		parts = append(parts, termtext.Field(e.MAC))
	}
	if e.InIf != "" {
		parts = append(parts, "in="+termtext.Field(e.InIf))
	}
	return fmt.Sprintf("host(%s)", strings.Join(parts, ","))
}
