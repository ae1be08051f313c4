package main

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/netns"
)

// flood sends UDP datagrams as benchUID from one socket for d, paced at rate
// packets/s (0: as fast as possible; -1: exactly one packet), each to the
// next address and port of targetNet so that no two packets of a step are
// the same attempt. Every send is denied (EPERM) after being logged. It
// returns how many were sent and how long that took.
func flood(ns *netns.NS, rate int, d time.Duration) (sent uint64, elapsed time.Duration, err error) {
	err = ns.Do(func() error {
		fd, err := userSocket(benchUID)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		payload := make([]byte, 16)
		start := time.Now()
		deadline := start.Add(d)
		for i := uint64(0); ; i++ {
			if rate < 0 && i == 1 {
				break
			}
			if i&63 == 0 && rate >= 0 {
				now := time.Now()
				if !now.Before(deadline) {
					break
				}
				if rate > 0 {
					// Pace: never run ahead of rate*elapsed.
					if ahead := time.Duration(float64(i)/float64(rate)*float64(time.Second)) - now.Sub(start); ahead > 0 {
						time.Sleep(ahead)
					}
				}
			}
			unix.Sendto(fd, payload, 0, target(i)) // EPERM: denied after logging
			sent++
		}
		elapsed = time.Since(start)
		return nil
	})
	return sent, elapsed, err
}

// target is the i-th destination: 10.99.A.B:port, cycling through 65,534
// addresses and 60,000 ports.
func target(i uint64) *unix.SockaddrInet4 {
	host := 1 + i%65534
	return &unix.SockaddrInet4{Port: int(1024 + i/65534%60000), Addr: [4]byte{10, 99, byte(host >> 8), byte(host)}}
}

// userSocket creates a UDP socket owned by uid (the kernel's skuid is the
// fsuid at creation), on the calling locked thread.
func userSocket(uid uint32) (int, error) {
	if _, err := unix.SetfsgidRetGid(int(uid)); err != nil {
		return -1, fmt.Errorf("setfsgid: %w", err)
	}
	if _, err := unix.SetfsuidRetUid(int(uid)); err != nil {
		return -1, fmt.Errorf("setfsuid: %w", err)
	}
	fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	unix.SetfsuidRetUid(0)
	unix.SetfsgidRetGid(0)
	if prev, _ := unix.SetfsuidRetUid(0); prev != 0 {
		return -1, errors.New("could not restore fsuid 0")
	}
	if serr != nil {
		return -1, fmt.Errorf("socket as uid %d: %w", uid, serr)
	}
	return fd, nil
}
