package resolve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/leash-dev/leash/internal/safefile"
)

// DefaultEthersPath is ethers(5): "MAC-ADDRESS HOSTNAME" lines.
const DefaultEthersPath = "/etc/ethers"

// Ethers is a Resolver that can also give a host's MAC address from the
// ethers file, for the names of LAN hosts in a policy's `hosts:`.
type Ethers interface {
	// LookupEthers returns host's MAC address in the ethers file, canonical
	// lower case (02:00:00:00:00:01); "" (and no error) when it is not
	// there.
	LookupEthers(host string) (string, error)
}

// LookupEthers looks host up in d's ethers file (EthersPath, "" meaning
// DefaultEthersPath; a missing file is empty; none when NoHosts).
func (d *DNS) LookupEthers(host string) (string, error) {
	if d.NoHosts {
		return "", nil
	}
	path := d.EthersPath
	if path == "" {
		path = DefaultEthersPath
	}
	src, err := safefile.Read(path) // a regular file of bounded size, never a FIFO
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolve: %w", err)
	}
	mac, err := parseEthers(bytes.NewReader(src), host)
	if err != nil {
		return "", fmt.Errorf("resolve: %s: %w", path, err)
	}
	return mac, nil
}

// parseEthers finds name's MAC address in an ethers file: the first line
// "MAC NAME" whose name matches (case-insensitive); lines whose second field
// is an address, malformed lines and comments are skipped.
func parseEthers(r io.Reader, name string) (string, error) {
	want := canonical(name)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || canonical(fields[1]) != want {
			continue
		}
		if _, err := netip.ParseAddr(fields[1]); err == nil {
			continue
		}
		hw, err := net.ParseMAC(fields[0])
		if err != nil || len(hw) != 6 {
			continue
		}
		return hw.String(), nil
	}
	return "", sc.Err()
}
