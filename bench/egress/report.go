//go:build linux

package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// printReport writes the human-readable table.
func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "kernel %s, %d CPUs, %d rounds of %v per namespace and case, %d CIDRs\n\n",
		rep.Kernel, rep.CPUs, rep.Rounds, rep.Duration, rep.CIDRs)
	printTables(w, rep)
}

// printTables writes the result tables of rep.
func printTables(w io.Writer, rep *report) {
	if len(rep.Results) > 0 {
		printResults(w, rep)
	}
	if len(rep.Rules) > 0 {
		printRules(w, rep.Rules)
	}
	if a := rep.Apply; a != nil {
		fmt.Fprintf(w, "\n%d users, %d CIDRs: Compile %v; Apply fresh median %v %v; Apply replace median %v %v\n",
			a.Users, a.CIDRs, a.Compile.Round(time.Millisecond),
			medianDur(a.Fresh), roundAll(a.Fresh), medianDur(a.Replace), roundAll(a.Replace))
	}
}

// printResults writes the table of the cases against no ruleset, and
// their counters.
func printResults(w io.Writer, rep *report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\thost\tcase\tudp pps leash\tbare\tratio\t(min-max)\ttcp cps leash\tbare\tratio\t(min-max)\t")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.3f\t(%.3f-%.3f)\t%.0f\t%.0f\t%.3f\t(%.3f-%.3f)\t\n", r.Path, r.Host, r.Case,
			spreadOf(values(r.Leash, udpPPS)).Median, spreadOf(values(r.Bare, udpPPS)).Median,
			r.UDP.Median, r.UDP.Min, r.UDP.Max,
			spreadOf(values(r.Leash, tcpCPS)).Median, spreadOf(values(r.Bare, tcpCPS)).Median,
			r.TCP.Median, r.TCP.Min, r.TCP.Max)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		var refused [2]uint64
		for i, ss := range [][]sample{r.Leash, r.Bare} {
			for _, s := range ss {
				refused[i] += s.TCPRefused
			}
		}
		if refused[0]+refused[1] > 0 {
			fmt.Fprintf(w, "%s/%s %s: connects refused (retried, not counted): leash %d, bare %d\n", r.Path, r.Host, r.Case, refused[0], refused[1])
		}
		if h := r.Hits; h != nil {
			fmt.Fprintf(w, "%s/%s %s: %s allow counters: udp %d (user sent %d), tcp %d (%d connects); dropped %d\n",
				r.Path, r.Host, r.Case, h.Chain, h.UDPAllow, h.UDPSent, h.TCPAllow, h.TCPConnect, h.Dropped)
		}
	}
}

func medianDur(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(spreadOf(xs).Median).Round(time.Millisecond)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// printRules writes the rule-list table: per case the median ratios
// (min-max) of leash and the expert's ruleset to no ruleset, and of
// leash to the expert, for UDP packets and TCP connects.
func printRules(w io.Writer, rs []rulesResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\thost\tcase\tudp leash/bare\texpert/bare\tleash/expert\t(min-max)\ttcp leash/bare\texpert/bare\tleash/expert\t(min-max)\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t(%.3f-%.3f)\t%.3f\t%.3f\t%.3f\t(%.3f-%.3f)\t\n", r.Path, r.Host, r.Case,
			r.UDPLeash.Median, r.UDPExpert.Median, r.UDPVsExpert.Median, r.UDPVsExpert.Min, r.UDPVsExpert.Max,
			r.TCPLeash.Median, r.TCPExpert.Median, r.TCPVsExpert.Median, r.TCPVsExpert.Min, r.TCPVsExpert.Max)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "%s/%s %s: udp pps leash %.0f, expert %.0f, bare %.0f; last rule accepted %d packets (UDP sent %d, TCP connects %d), dropped %d\n",
			r.Path, r.Host, r.Case, spreadOf(values(r.Leash, udpPPS)).Median, spreadOf(values(r.Expert, udpPPS)).Median,
			spreadOf(values(r.Bare, udpPPS)).Median, r.Allowed, r.Sent, r.Connects, r.Dropped)
	}
}
