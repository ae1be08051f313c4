package nft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rawElem is one set or map element as dumped by the kernel: its key, the
// NFT_SET_ELEM_INTERVAL_END flag, and for a verdict map the nested
// NFTA_VERDICT_* attributes of its data. The slices point into the dump's
// receive buffers, which are never reused.
type rawElem struct {
	key []byte
	end bool
	val []byte
	// comment, and counter (set, with its packets and bytes) when the
	// element has one: see entryverdict_linux.go.
	comment        string
	counter        bool
	packets, bytes uint64
}

// dumpBufSize is the receive buffer of a dump. The kernel sizes each dump
// message batch by the largest buffer recvmsg was given, up to 32 KiB
// (netlink_recvmsg: max_recvmsg_len), and walks a set from its first
// element to resume every batch (nf_tables_dump_set skips what earlier
// batches sent), so a dump costs elements x batches: with 32 KiB batches
// instead of the one page mdlayher/netlink's Receive peeks with, the kernel
// walks 8 times less. 64 KiB leaves room over the kernel's cap.
const dumpBufSize = 64 << 10

// dumpSetElements dumps the elements of set name in `table inet leash`.
// nft equivalent: the elements part of `nft list set inet leash NAME`.
//
// It reads the dump itself instead of through google/nftables'
// GetSetElements, which receives one page per batch and allocates a
// SetElement and three attribute decoders per element: 1,000,000 addresses
// took minutes there; here they take about as long as `nft list`.
func (c *Conn) dumpSetElements(name string) ([]rawElem, error) {
	var out []rawElem
	filter := []netlink.Attribute{
		tableFilter(unix.NFTA_SET_ELEM_LIST_TABLE),
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(name + "\x00")},
	}
	err := c.dumpObjects(unix.NFT_MSG_GETSETELEM, unix.NFT_MSG_NEWSETELEM, unix.NFPROTO_INET, filter, func(_ byte, attrs []byte) error {
		return eachAttr(attrs, func(t uint16, b []byte) error {
			if t != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				return nil
			}
			return eachAttr(b, func(t uint16, b []byte) error {
				if t != unix.NFTA_LIST_ELEM {
					return nil
				}
				e, err := parseElem(b)
				out = append(out, e)
				return err
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dump elements of set %s: %w", name, err)
	}
	return out, nil
}

// nftaSetElemExpressions is NFTA_SET_ELEM_EXPRESSIONS, which x/sys/unix
// does not name: an element's expressions when it has several.
const nftaSetElemExpressions = 0x11

// parseElem decodes the attributes of one NFTA_LIST_ELEM of a set element
// dump; attributes leash never writes are ignored, as the set's flags
// (checked before) rule them out.
func parseElem(b []byte) (rawElem, error) {
	var e rawElem
	err := eachAttr(b, func(t uint16, b []byte) error {
		switch t {
		case unix.NFTA_SET_ELEM_KEY:
			e.key = dataAttr(b, unix.NFTA_DATA_VALUE)
		case unix.NFTA_SET_ELEM_DATA:
			e.val = dataAttr(b, unix.NFTA_DATA_VERDICT)
		case unix.NFTA_SET_ELEM_FLAGS:
			if len(b) != 4 {
				return fmt.Errorf("element flags of %d bytes", len(b))
			}
			e.end = binary.BigEndian.Uint32(b)&unix.NFT_SET_ELEM_INTERVAL_END != 0
		case unix.NFTA_SET_ELEM_USERDATA:
			c, err := elemComment(b)
			e.comment = c
			return err
		case unix.NFTA_SET_ELEM_EXPR:
			return parseElemExprs(&e, b, false)
		case nftaSetElemExpressions:
			return parseElemExprs(&e, b, true)
		}
		return nil
	})
	return e, err
}

// dataAttr returns the payload of the attribute of type want inside the
// nested nft_data attribute b (NFTA_DATA_VALUE or NFTA_DATA_VERDICT).
func dataAttr(b []byte, want uint16) []byte {
	var out []byte
	_ = eachAttr(b, func(t uint16, d []byte) error {
		if t == want {
			out = d
		}
		return nil
	})
	return out
}

// eachAttr calls f with the type (flags masked off) and payload of every
// netlink attribute in b, without allocating.
func eachAttr(b []byte, f func(typ uint16, data []byte) error) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofNlAttr {
			return fmt.Errorf("truncated attribute (%d bytes)", len(b))
		}
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.SizeofNlAttr || l > len(b) {
			return fmt.Errorf("attribute of length %d in %d bytes", l, len(b))
		}
		if err := f(t, b[unix.SizeofNlAttr:l]); err != nil {
			return err
		}
		b = b[min(len(b), nlAlign(l)):]
	}
	return nil
}

func nlAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

// dumpObjects asks the kernel for a dump of the objects of message type get
// (NFT_MSG_GET*) in family, narrowed by the filter attributes, and calls
// each with the family and attributes of every reply of type reply
// (NFT_MSG_NEW*). It receives through dump, in dumpBufSize batches. A
// missing table comes back as unix.ENOENT.
func (c *Conn) dumpObjects(get, reply uint16, family byte, filter []netlink.Attribute, each func(family byte, attrs []byte) error) error {
	nl, err := c.dial()
	if err != nil {
		return err
	}
	defer nl.Close()
	attrs, err := netlink.MarshalAttributes(filter)
	if err != nil {
		return err
	}
	// A chain dump resumes each batch by counting the chains of every
	// table of the family (nf_tables_dump_chains ignores the table
	// attribute), so another table's change shifts it: it stops when
	// interrupted. The other dumps count within the table they are
	// narrowed to, and another table's change cannot shift them: they go
	// on, and the snapshot's change log says whether the change was this
	// table's (snapshot).
	tolerant := get != unix.NFT_MSG_GETCHAIN
	return dump(nl, tolerant, netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | get),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{family, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}, func(typ uint16, data []byte) error {
		if typ != unix.NFNL_SUBSYS_NFTABLES<<8|reply || len(data) < 4 {
			return nil
		}
		return each(data[0], data[4:])
	})
}

// tableFilter narrows a dump to `table inet leash` (attribute typ is the
// object's NFTA_*_TABLE).
func tableFilter(typ uint16) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: []byte(ruleset.TableName + "\x00")}
}

// errDumpInterrupted reports that the kernel's ruleset changed during a
// dump (NLM_F_DUMP_INTR): the messages may be inconsistent.
var errDumpInterrupted = errors.New("ruleset changed during the dump")

// dump sends the dump request req on nl and calls each with the type and
// payload of every reply message until the kernel's NLMSG_DONE, receiving
// into fresh dumpBufSize buffers (so payloads stay valid after each
// returns). A kernel error comes back as a unix.Errno. A message flagged
// interrupted (the ruleset changed since the dump began) ends the dump with
// errDumpInterrupted, unless tolerant: then it is passed on like the rest.
func dump(nl *netlink.Conn, tolerant bool, req netlink.Message, each func(typ uint16, data []byte) error) error {
	sent, err := nl.Send(req)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	rc, err := nl.SyscallConn()
	if err != nil {
		return err
	}
	for {
		buf := make([]byte, dumpBufSize)
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		}); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if rerr != nil {
			return fmt.Errorf("receive: %w", rerr)
		}
		if n > len(buf) {
			return fmt.Errorf("receive: message of %d bytes truncated to %d", n, len(buf))
		}
		done, err := dumpMessages(buf[:n], sent.Header.Sequence, tolerant, each)
		if done || err != nil {
			return err
		}
	}
}

// dumpMessages walks the netlink messages of one received datagram. It
// reports whether the dump is complete.
func dumpMessages(b []byte, seq uint32, tolerant bool, each func(typ uint16, data []byte) error) (bool, error) {
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(binary.NativeEndian.Uint32(b))
		typ := binary.NativeEndian.Uint16(b[4:])
		flags := binary.NativeEndian.Uint16(b[6:])
		mseq := binary.NativeEndian.Uint32(b[8:])
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return false, fmt.Errorf("netlink message of length %d in %d bytes", l, len(b))
		}
		data := b[unix.SizeofNlMsghdr:l]
		b = b[min(len(b), nlAlign(l)):]
		switch {
		case mseq != seq: // not an answer to this request

		case typ == unix.NLMSG_ERROR || typ == unix.NLMSG_DONE:
			if len(data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(data)); errno != 0 {
					return true, unix.Errno(-errno)
				}
			}
			if typ == unix.NLMSG_DONE {
				return true, nil
			}
		case flags&unix.NLM_F_DUMP_INTR != 0 && !tolerant:
			return true, errDumpInterrupted
		default:
			if err := each(typ, data); err != nil {
				return true, err
			}
		}
	}
	return false, nil
}
