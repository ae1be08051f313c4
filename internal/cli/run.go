package cli

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/termtext"
)

func runCmd(d Deps, g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "run [--policy NAME] -- CMD [ARGS...]",
		Short: "Run a command confined by a policy that governs cgroups",
		Long: `Run CMD in a new cgroup below the first cgroup the policy NAME governs
(its first cgroups: or units: entry), so that every socket it and its
children make is judged by NAME, whatever user they run as. The command
is in its cgroup before it starts (CLONE_INTO_CGROUP): its first packet is
already judged. Where systemd is PID 1 and the path is a .slice unit's,
systemd-run --scope --slice=SLICE makes the cgroup instead.

Without --policy, the one policy in force that governs cgroups. The
policy in force must govern cgroups and its table must be loaded: leash
run refuses to start the command otherwise. Missing directories on the way
are made and classified (as leash daemon does). Exits with the command's
status; its cgroup is removed when it ends, unless processes it left are
still in it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if d.Cgroups == nil {
				return fmt.Errorf("run: this build has no cgroup support")
			}
			fs, err := d.Cgroups()
			if err != nil {
				return fmt.Errorf("run: %w", err)
			}
			e := engineFor(cmd, d, g, nil)
			gen, _, err := e.View()
			if err != nil {
				return err
			}
			if gen == nil {
				return fmt.Errorf("run: no policy is in force: apply one that governs cgroups first")
			}
			plan, err := policy.CgroupPlanOf(gen.PolicyFile, gen.Policy)
			if err != nil {
				return fmt.Errorf("run: the policy in force: %w", err)
			}
			pol, at, err := plan.RunPath(name)
			if err != nil {
				return usage("run: %v", err)
			}
			argv := args
			var run string
			if slice := cgroups.SliceOf(at); slice != "" && cgroups.SystemdRunning() {
				argv = cgroups.SystemdRunArgs(slice, args)
			} else {
				if run, _, err = fs.MakeRun(at, strconv.Itoa(os.Getpid())); err != nil {
					return fmt.Errorf("run: %w", err)
				}
				defer func() {
					if err := fs.Remove(run); err != nil {
						fmt.Fprintf(d.Stderr, "leash: run: %s\n", termtext.Escape(err.Error()))
					}
				}()
			}
			// Classify what is on the way (new directories made just now,
			// a unit restarted since the apply): this also proves the
			// kernel holds the policy's cgroup sets, or refuses to start.
			snap, err := cgroups.Scan(fs, plan)
			if err != nil {
				return fmt.Errorf("run: %w", err)
			}
			if _, err := e.UpdateLive(cmd.Context(), cgroups.Ops(plan.Elements(snap), nil)); err != nil {
				return fmt.Errorf("run: the kernel does not hold the cgroup sets of the policy in force (leash status says why); not starting %s: %w", termtext.Escape(args[0]), err)
			}
			code, err := runConfined(d, g, fs, run, argv)
			if err != nil {
				return fmt.Errorf("run: %s (policy %s): %w", termtext.Escape(args[0]), pol, err)
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&name, "policy", "", "the policy to run the command under (one that governs cgroups)")
	return cmd
}

// runConfined starts argv in cgroup run ("" : where systemd-run puts it)
// from a thread in leash's network namespace, forwards SIGINT, SIGTERM and
// SIGHUP to it and returns its exit status (128+N when killed by signal N).
func runConfined(d Deps, g *globals, fs *cgroups.FS, run string, argv []string) (int, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, d.Stdout, d.Stderr
	if run != "" {
		fd, err := fs.OpenDir(run)
		if err != nil {
			return 0, err
		}
		defer syscall.Close(fd)
		c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	start := c.Start
	if g.netns != "" {
		start = func() error { return netns.DoIn(g.netns, c.Start) }
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}
