package state

import "time"

// Windows records a generation's time windows (`when:`): its ruleset holds
// absolute instants up to Until (internal/compile/when.go), computed with
// the rules of Zones (IANA names; "Local" for the host's zone). A record
// without it (older, or no windows) reads as nil.
type Windows struct {
	Until time.Time `json:"until"`
	Zones []string  `json:"zones,omitempty"`
}
