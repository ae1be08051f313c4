package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/proof"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/termtext"
)

func testCmd(d Deps, g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test FILE...",
		Short: "Prove policies against the real kernel in a throwaway sandbox",
		Long: `For each FILE, build a sandbox (a client and a peer network namespace that
leash creates and always removes), apply the compiled policy in the client
namespace only, and run every case of the file's tests: section as a real
process with the case's uid and groups. The peer answers for any address and
port (TCP, UDP, ICMP, IPv4 and IPv6) and serves DNS for the policy's
hostnames. A case passes when the kernel does what it expects and leash check
agrees with the kernel. Without a tests: section, probes are derived from
the policy's rules and defaults. The host's firewall and routes are never
touched. Needs root.

Exit status: 0 all passed, 1 a case failed, 2 invalid input.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTests(cmd.Context(), d, g, args, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 500*time.Millisecond, "how long a probe waits for an answer (a dropped TCP SYN shows as a timeout)")
	return cmd
}

// fileReport is the outcome of one policy file.
type fileReport struct {
	File    string         `json:"file"`
	Derived bool           `json:"derived"`
	Results []proof.Result `json:"results"`
	Passed  int            `json:"passed"`
	Failed  int            `json:"failed"`
	// Notes say how cases with `at:` were proved.
	Notes []string `json:"notes,omitempty"`
}

func runTests(ctx context.Context, d Deps, g *globals, files []string, timeout time.Duration) error {
	var reports []fileReport
	passed, failed := 0, 0
	for _, f := range files {
		rep, err := testFile(ctx, d, g, f, timeout)
		if err != nil {
			return err
		}
		if !g.json {
			printReport(d.Stdout, rep)
		}
		reports = append(reports, rep)
		passed, failed = passed+rep.Passed, failed+rep.Failed
	}
	if g.json {
		if err := printJSON(d.Stdout, struct {
			Files  []fileReport `json:"files"`
			Passed int          `json:"passed"`
			Failed int          `json:"failed"`
		}{reports, passed, failed}); err != nil {
			return err
		}
	} else if len(files) > 1 {
		fmt.Fprintf(d.Stdout, "all files: %d passed, %d failed\n", passed, failed)
	}
	if failed > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// testFile proves one policy file in its own sandbox.
func testFile(ctx context.Context, d Deps, g *globals, path string, timeout time.Duration) (fileReport, error) {
	rep := fileReport{File: path}
	src, err := d.ReadFile(path)
	if err != nil {
		return rep, &exitError{code: 2, err: fmt.Errorf("read policy: %w", err)}
	}
	f, err := policy.Parse(path, src)
	if err != nil {
		return rep, err
	}
	hosts, err := policy.TestHosts(f)
	if err != nil {
		return rep, err
	}
	sb, err := sandbox.New(ctx, sandbox.Config{ProbeCommand: d.ProbeCommand, Hosts: hosts, LAN: policy.HasForwardedCases(f)})
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	defer sb.Close()
	client := sb.Client().Name
	env, err := d.Env(ctx, EnvOptions{Resolver: sb.DNSServer().String(), DNSTimeout: g.dnsTimeout, NetNS: client, NoHostsFile: true, Passwd: g.passwd, Group: g.group})
	if err != nil {
		return rep, fmt.Errorf("load users, groups and services: %w", err)
	}
	res, err := policy.Resolve(ctx, f, env)
	if err != nil {
		return rep, err
	}
	// Resolve the cases before the policy is loaded: once it is, leash's own
	// DNS queries from the client namespace are subject to it.
	cases := proof.FromTests(policy.ResolveTests(ctx, f, env))
	if f.Tests == nil {
		rep.Derived = true
		cases = proof.Derive(res, env.Directory)
	}
	cgroupOf, cleanup, err := testCgroups(d, res, cases)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	local, err := netns.LocalAddrs(client)
	if err != nil {
		return rep, err
	}
	// One ruleset per `at:` of the cases (proof/at.go).
	apply := func(rs *ruleset.Ruleset) error { return applyIn(d, client, rs) }
	var shifts []proof.Shift
	rep.Results, shifts, err = proof.RunTimed(ctx, sb, apply, res, cases, proof.Options{Timeout: timeout, Local: local, Now: d.Clock.Now, Cgroup: cgroupOf})
	for _, s := range shifts {
		rep.Notes = append(rep.Notes, fmt.Sprintf("cases at %s: windows compiled for that time, shifted by %s to the kernel's clock (which cannot be set)",
			atText(s.At, env.Zone), s.By.Round(time.Second)))
	}
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range rep.Results {
		if r.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	return rep, nil
}

func applyIn(d Deps, ns string, rs *ruleset.Ruleset) error {
	k, err := d.OpenKernel(ns)
	if err != nil {
		return fmt.Errorf("connect to nftables in the sandbox: %w", err)
	}
	defer k.Close()
	return k.Apply(rs)
}

func printReport(w io.Writer, rep fileReport) {
	how := "cases from its tests: section"
	if rep.Derived {
		how = "probes derived from its rules (no tests: section)"
	}
	fmt.Fprintf(w, "%s: %d %s\n", termtext.Escape(rep.File), len(rep.Results), how)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", termtext.Escape(fmt.Sprint(n)))
	}
	for _, r := range rep.Results {
		status := "PASS"
		if !r.Pass {
			status = "FAIL"
		}
		expect := string(r.Expect)
		if expect == "" {
			expect = "-"
		}
		if r.Case.Err != "" {
			fmt.Fprintf(w, "  %s  %s  %s\n        %s\n", status, termtext.Escape(fmt.Sprint(r.Pos)), termtext.Escape(r.Source), termtext.Escape(r.Case.Err))
			continue
		}
		dest := r.Case.Describe()
		if !r.Inbound && r.Target.Host != r.Addr.String() {
			dest += " " + r.Target.Host
		}
		who := termtext.Field(r.As.Name)
		switch {
		case r.From != nil:
			who = "from " + termtext.Escape(r.From.String())
		case who == "":
			who = fmt.Sprintf("uid %d", r.As.UID)
		}
		if r.As.Cgroup != "" { // a program: "nginx.service as apache"
			who = termtext.Escape(r.As.Desc)
		}
		fmt.Fprintf(w, "  %s  %-10s %-44s expect %-6s kernel %-9s %7.1fms  check %-6s by %s\n", status,
			who, termtext.Escape(dest), expect, r.Outcome.Result, float64(r.Outcome.Elapsed)/float64(time.Millisecond), r.Check, termtext.Escape(r.CheckBy))
		if !r.Pass {
			fmt.Fprintf(w, "        %s; as %s; case %s at %s\n", termtext.Escape(r.Why), termtext.Escape(r.As.Desc), termtext.Escape(r.Source), termtext.Escape(fmt.Sprint(r.Pos)))
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", rep.Passed, rep.Failed)
}

func sandboxProbeCmd(d Deps) *cobra.Command {
	return &cobra.Command{
		Use:                "sandbox-probe PROTO ADDR PORT TIMEOUT",
		Short:              "One connection attempt (run by leash test as the case's user)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := sandbox.ProbeMain(args, d.Stdout); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}
