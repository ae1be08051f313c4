package resolve

import (
	"strings"
	"testing"
)

func TestParseEthers(t *testing.T) {
	const file = `# ethers(5)
02:00:00:c8:01:0A   kids-pc      # the kids' PC
02-00-00-c8-01-0b   printer
08:00:20:00:61:CA   192.168.1.9
not-a-mac           broken
02:00:00:c8:01:0c
`
	for _, tc := range []struct {
		name, want string
	}{
		{"kids-pc", "02:00:00:c8:01:0a"},
		{"KIDS-PC.", "02:00:00:c8:01:0a"},
		{"printer", "02:00:00:c8:01:0b"},
		{"192.168.1.9", ""}, // an address is not a host name
		{"broken", ""},
		{"nobody", ""},
	} {
		got, err := parseEthers(strings.NewReader(file), tc.name)
		if err != nil || got != tc.want {
			t.Errorf("parseEthers(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
