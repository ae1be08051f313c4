package policy

// ICMP echo request types, for `ping`.
const (
	icmpEchoRequest   = 8
	icmpv6EchoRequest = 128
)

// icmpTypes are the ICMP type names `icmp:NAME` accepts (nft's names).
func icmpTypes() map[string]uint8 {
	return map[string]uint8{
		"echo-reply":              0,
		"destination-unreachable": 3,
		"source-quench":           4,
		"redirect":                5,
		"echo-request":            8,
		"router-advertisement":    9,
		"router-solicitation":     10,
		"time-exceeded":           11,
		"parameter-problem":       12,
		"timestamp-request":       13,
		"timestamp-reply":         14,
		"info-request":            15,
		"info-reply":              16,
		"address-mask-request":    17,
		"address-mask-reply":      18,
	}
}

// icmpv6Types are the ICMPv6 type names `icmpv6:NAME` accepts (nft's names).
func icmpv6Types() map[string]uint8 {
	return map[string]uint8{
		"destination-unreachable": 1,
		"packet-too-big":          2,
		"time-exceeded":           3,
		"parameter-problem":       4,
		"echo-request":            128,
		"echo-reply":              129,
		"mld-listener-query":      130,
		"mld-listener-report":     131,
		"mld-listener-done":       132,
		"mld-listener-reduction":  132,
		"nd-router-solicit":       133,
		"nd-router-advert":        134,
		"nd-neighbor-solicit":     135,
		"nd-neighbor-advert":      136,
		"nd-redirect":             137,
		"router-renumbering":      138,
		"ind-neighbor-solicit":    141,
		"ind-neighbor-advert":     142,
		"mld2-listener-report":    143,
	}
}
