// Package nft is leash's netlink backend: it loads a ruleset.Ruleset into the
// kernel as `table inet leash`, reads it back with counters, and removes it.
//
// Every change is one nfnetlink batch, which the kernel applies as one
// transaction: either all of it takes effect or none of it. Nothing outside
// `table inet leash` is ever touched. Production code talks netlink only
// (github.com/google/nftables plus a raw rule dump); it never runs the nft
// binary.
//
// The encoding of every rule is the one nft 1.0.6 itself generates for the
// rule's text form (ruleset.Text), including the protocol dependencies nft
// inserts implicitly (see ruleset.ExplicitMatches), so `nft list table inet
// leash` prints leash's rules exactly as if they had been loaded with nft -f.
package nft
