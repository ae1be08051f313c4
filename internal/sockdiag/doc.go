// Package sockdiag lists the kernel's TCP and UDP sockets over netlink
// (NETLINK_SOCK_DIAG, the interface `ss` uses), and looks up one socket by
// its exact address tuple.
//
// It speaks the inet_diag protocol directly: a request is an
// inet_diag_req_v2 (include/uapi/linux/inet_diag.h) in a SOCK_DIAG_BY_FAMILY
// message, an answer is an inet_diag_msg followed by attributes. Nothing is
// parsed from the output of another program.
//
// A Conn works in one network namespace: the one of the calling thread when
// it is dialed, or the one given with WithNetNS (an fd such as
// netns.NS.Fd(), the same convention as internal/nft).
//
// What the kernel reports, and does not:
//   - UID is the socket's owner (sk_uid: the fsuid of the task that created
//     it, the same identity nftables' `meta skuid` matches). There is no gid.
//   - Inode identifies the socket's file; /proc/PID/fd/N links to
//     "socket:[INODE]" in every process holding it (see internal/procinfo).
//     It is 0 for sockets without a file: time-wait and orphaned sockets.
//   - Cookie is the kernel's unique 64-bit id of the socket.
//   - UDP sockets are in state Established when connected and Close when
//     not; TCP sockets in every state of include/net/tcp_states.h.
package sockdiag
