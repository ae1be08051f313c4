package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/service"
)

func installServiceCmd(d Deps, g *globals) *cobra.Command {
	var (
		root, bindir string
		noEnable     bool
	)
	cmd := &cobra.Command{
		Use:   "install-service",
		Short: "Install the systemd units: restore at boot, then the daemon",
		Long: `Write leash.service (loads the last applied table at boot, before
network-pre.target, without DNS), leash-daemon.service (leash daemon, after
it: keeps the table in step with the policy file, users, groups and other
tools, and collects the denial log), and, for hosts that run leash without
the daemon, leash-reapply.service, leash-reapply.path (re-apply when
/etc/passwd or /etc/group change), leash-reapply.timer (every 15 minutes)
and leash-log.service (the denial log collector alone) into
ROOT/etc/systemd/system, with ExecStart naming BINDIR/leash and
--state-dir. Then, without --root and unless --no-enable, run systemctl
daemon-reload and systemctl enable leash.service leash-daemon.service
(when the host has systemctl). The daemon starts once a policy was
applied: after the first leash apply, systemctl start leash-daemon.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bindir == "" {
				bindir = filepath.Dir(d.Executable)
			}
			bin, err := filepath.Abs(bindir)
			if err != nil {
				return usage("--bindir: %v", err)
			}
			stateDir, err := filepath.Abs(g.stateDir)
			if err != nil {
				return usage("--state-dir: %v", err)
			}
			units, err := service.Units(service.Options{BinDir: bin, StateDir: stateDir})
			if err != nil {
				return usage("%v", err)
			}
			dest := root
			if dest == "" {
				dest = "/"
			}
			paths, err := service.Install(dest, units)
			for _, p := range paths {
				fmt.Fprintf(d.Stdout, "wrote %s\n", p)
			}
			if err != nil {
				return err
			}
			enable := append([]string{"enable"}, service.Enabled()...)
			if root != "" || noEnable {
				fmt.Fprintf(d.Stdout, "not enabled; on the target system run: systemctl daemon-reload && systemctl %s\n", strings.Join(enable, " "))
				return nil
			}
			return enableUnits(cmd, d, enable)
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", "", "install under this directory instead of / (and enable nothing)")
	f.StringVar(&bindir, "bindir", "", "directory of the leash binary named in the units (default: this binary's)")
	f.BoolVar(&noEnable, "no-enable", false, "only write the units")
	return cmd
}

func enableUnits(cmd *cobra.Command, d Deps, enable []string) error {
	err := d.Systemctl(cmd.Context(), "daemon-reload")
	if errors.Is(err, exec.ErrNotFound) {
		fmt.Fprintf(d.Stdout, "systemctl not found: enable the units with your init system (systemctl %s)\n", strings.Join(enable, " "))
		return nil
	}
	if err == nil {
		err = d.Systemctl(cmd.Context(), enable...)
	}
	if err != nil {
		return fmt.Errorf("systemctl: %w", err)
	}
	fmt.Fprintf(d.Stdout, "enabled %s: the table is restored at every boot, then leash daemon keeps it in step and collects the denial log.\n", strings.Join(enable[1:], " and "))
	fmt.Fprintln(d.Stdout, "The daemon starts once a policy is applied: after the first leash apply, run systemctl start leash-daemon.")
	fmt.Fprintln(d.Stdout, "With the daemon, leave leash-reapply.path and leash-log.service disabled: it does what they do.")
	return nil
}
