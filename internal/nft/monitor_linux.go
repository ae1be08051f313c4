package nft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// monitorBuffer is the monitor socket's receive buffer.
const monitorBuffer = 4 << 20

// eventNames are the notifications that change a table's content, by
// message type, as TableChange.What words them.
var eventNames = map[uint16]string{
	unix.NFT_MSG_NEWTABLE:     "table added or changed",
	unix.NFT_MSG_DELTABLE:     "table deleted",
	unix.NFT_MSG_NEWCHAIN:     "chain added or changed",
	unix.NFT_MSG_DELCHAIN:     "chain deleted",
	unix.NFT_MSG_NEWRULE:      "rule added",
	unix.NFT_MSG_DELRULE:      "rule deleted",
	unix.NFT_MSG_NEWSET:       "set added",
	unix.NFT_MSG_DELSET:       "set deleted",
	unix.NFT_MSG_NEWSETELEM:   "element added",
	unix.NFT_MSG_DELSETELEM:   "element deleted",
	unix.NFT_MSG_NEWOBJ:       "object added",
	unix.NFT_MSG_DELOBJ:       "object deleted",
	unix.NFT_MSG_NEWFLOWTABLE: "flowtable added",
	unix.NFT_MSG_DELFLOWTABLE: "flowtable deleted",
}

// Watch reports on changes every kernel transaction that touched `table
// inet leash` in c's namespace, whoever sent it (this process included:
// TableChange.Self), until ctx ends (then it returns nil) or the
// monitor socket fails. Events the kernel drops (ENOBUFS, a busy
// ruleset) are reported as a TableChange with Lost set, and watching
// goes on. It reads the nf_tables multicast group (NFNLGRP_NFTABLES) on a
// socket of its own: every notification names its table in attribute 1
// (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
// NFTA_SET_ELEM_LIST_TABLE, ...), and each transaction ends with
// NFT_MSG_NEWGEN naming the sender.
// nft equivalent: `nft monitor`.
func (c *Conn) Watch(ctx context.Context, changes chan<- TableChange) error {
	nl, err := c.dial()
	if err != nil {
		return err
	}
	if err := nl.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		nl.Close()
		return fmt.Errorf("nft: watch: join the nf_tables event group: %w", err)
	}
	// Room for the notifications of a large transaction (a full replace
	// of a big table sends one per rule, set and element batch); beyond
	// it the kernel drops events and says ENOBUFS.
	_ = nl.SetReadBuffer(monitorBuffer)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		nl.Close()
	}()
	var what []string
	send := func(ch TableChange) bool {
		select {
		case changes <- ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		msgs, err := nl.Receive()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, unix.ENOBUFS) {
			what = nil
			if !send(TableChange{Lost: true}) {
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("nft: watch: %w", err)
		}
		for _, m := range msgs {
			name, gen := classify(m)
			if gen {
				if len(what) > 0 {
					ch := genChange(m.Data[4:])
					ch.What, what = what, nil
					ch.Self = ownThread(ch.PID)
					if !send(ch) {
						return nil
					}
				}
				continue
			}
			if name != "" && !slices.Contains(what, name) {
				what = append(what, name)
			}
		}
	}
}

// classify reads one nf_tables notification: the change it makes to `table
// inet leash` (an eventNames word; "" for a change of another table, or
// anything else), or gen: it is NFT_MSG_NEWGEN, the end of a transaction.
func classify(m netlink.Message) (leash string, gen bool) {
	typ := uint16(m.Header.Type)
	if typ>>8 != unix.NFNL_SUBSYS_NFTABLES || len(m.Data) < 4 {
		return "", false
	}
	typ &= 0xff
	if typ == unix.NFT_MSG_NEWGEN {
		return "", true
	}
	name, ok := eventNames[typ]
	if !ok || m.Data[0] != unix.NFPROTO_INET || eventTable(m.Data[4:]) != ruleset.TableName {
		return "", false
	}
	return name, false
}

// eventTable is the table a notification names (attribute 1), "" if none.
func eventTable(attrs []byte) string {
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return ""
	}
	for ad.Next() {
		if ad.Type() == 1 {
			return ad.String()
		}
	}
	return ""
}

// ownThread reports whether tid is a thread of this process: the kernel
// names a transaction's sender by thread id, and a Go program sends from
// any of its threads.
func ownThread(tid uint32) bool {
	if tid == 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
	return err == nil
}

// genChange reads NFT_MSG_NEWGEN: the generation and its sender.
func genChange(attrs []byte) TableChange {
	var ch TableChange
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return ch
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_GEN_ID:
			ch.Gen = ad.Uint32()
		case unix.NFTA_GEN_PROC_PID:
			ch.PID = ad.Uint32()
		case unix.NFTA_GEN_PROC_NAME:
			ch.Comm = ad.String()
		}
	}
	return ch
}
