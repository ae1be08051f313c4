package nft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dumpChains dumps the chains of `table inet leash` (or, with all, of every
// table of every family) with the fields the decoders read (table, name,
// and for a base chain its type, hook, priority and policy), in the
// kernel's order.
// nft equivalent: the chain lines of `nft list table inet leash`, or
// `nft list chains`.
//
// It receives in dumpBufSize batches instead of through google/nftables'
// ListChains, which receives one page per batch: the kernel resumes every
// batch of a chain dump by walking the chains from the first
// (nf_tables_dump_chains), so a table of 200,000 chains (one per rule) was
// read in thousands of batches, each walking up to all of them.
func (c *Conn) dumpChains(all bool) ([]*nftables.Chain, error) {
	family, filter := byte(unix.NFPROTO_INET), []netlink.Attribute{tableFilter(unix.NFTA_CHAIN_TABLE)}
	if all {
		family, filter = unix.NFPROTO_UNSPEC, nil
	}
	var out []*nftables.Chain
	err := c.dumpObjects(unix.NFT_MSG_GETCHAIN, unix.NFT_MSG_NEWCHAIN, family, filter, func(fam byte, attrs []byte) error {
		ch, err := parseChain(nftables.TableFamily(fam), attrs)
		if err == nil && (all || (ch.Table.Family == nftables.TableFamilyINet && ch.Table.Name == ruleset.TableName)) {
			out = append(out, ch)
		}
		return err
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, errNoTable
	}
	if err != nil {
		return nil, fmt.Errorf("dump chains: %w", err)
	}
	return out, nil
}

// parseChain decodes the attributes of one NFT_MSG_NEWCHAIN message of
// family fam.
func parseChain(fam nftables.TableFamily, b []byte) (*nftables.Chain, error) {
	ch := &nftables.Chain{Table: &nftables.Table{Family: fam}}
	err := eachAttr(b, func(typ uint16, data []byte) error {
		switch typ {
		case unix.NFTA_CHAIN_TABLE:
			ch.Table.Name = cString(data)
		case unix.NFTA_CHAIN_NAME:
			ch.Name = cString(data)
		case unix.NFTA_CHAIN_TYPE:
			ch.Type = nftables.ChainType(cString(data))
		case unix.NFTA_CHAIN_POLICY:
			if len(data) != 4 {
				return fmt.Errorf("chain policy of %d bytes", len(data))
			}
			p := nftables.ChainPolicy(binary.BigEndian.Uint32(data))
			ch.Policy = &p
		case unix.NFTA_CHAIN_HOOK:
			return eachAttr(data, func(typ uint16, data []byte) error {
				if typ != unix.NFTA_HOOK_HOOKNUM && typ != unix.NFTA_HOOK_PRIORITY {
					return nil // a netdev chain's devices: never leash's
				}
				if len(data) != 4 {
					return fmt.Errorf("hook attribute %d of %d bytes", typ, len(data))
				}
				v := binary.BigEndian.Uint32(data)
				if typ == unix.NFTA_HOOK_HOOKNUM {
					h := nftables.ChainHook(v)
					ch.Hooknum = &h
				} else {
					p := nftables.ChainPriority(int32(v))
					ch.Priority = &p
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	return ch, nil
}

// cString returns a netlink string attribute without its terminating NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
