// Package systemd holds leash's systemd units, embedded so that
// `leash install-service` can write them:
//
//	leash.service          restores the last applied table at boot (before network-pre.target)
//	leash-reapply.service  recompiles the policy with today's users, groups and hostnames
//	leash-reapply.path     starts leash-reapply.service when /etc/passwd or /etc/group change
//	leash-reapply.timer    optional: starts it every 15 minutes
//	leash-daemon.service   keeps the kernel in step and collects the denial log (leash daemon)
//	leash-log.service      optional, without the daemon: the denial log collector alone
//
// The files name the default paths /usr/local/sbin/leash and /var/lib/leash;
// internal/service rewrites them to the installed ones.
package systemd

import "embed"

// Units are the unit files, at the top of the file system.
//
//go:embed *.service *.path *.timer
var Units embed.FS
