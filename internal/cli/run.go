package cli

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/hostcmd"
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
are made and classified: by run itself, or, while leash daemon runs (it
owns the table), by the daemon, which run waits for. Exits with the command's
status; its cgroup is removed when it ends, unless processes it left are
still in it.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
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
			var made []string
			if slice := cgroups.SliceOf(at); slice != "" && hostcmd.SystemdBooted() {
				argv = cgroups.SystemdRunArgs(slice, args)
			} else {
				if run, made, err = fs.MakeRun(at, strconv.Itoa(os.Getpid())); err != nil {
					return fmt.Errorf("run: %w", err)
				}
				defer func() {
					if err := fs.Remove(run); err != nil {
						fmt.Fprintf(d.Stderr, "leash: run: %s\n", termtext.Escape(err.Error()))
					}
				}()
			}
			if err := classifyForRun(cmd, d, g, e, fs, plan, made); err != nil {
				return fmt.Errorf("run: not starting %s: %w", termtext.Escape(args[0]), err)
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

// classifyForRun makes sure the cgroups on the way to the run's are
// classified and the kernel enforces the policy in force. Where leash
// daemon runs, it owns the table and classifies new cgroups itself
// (inotify): run asks it whether the table is in force. Otherwise run
// classifies them (engine.UpdateLive, which fails unless the kernel holds
// the policy's cgroup sets).
func classifyForRun(cmd *cobra.Command, d Deps, g *globals, e *engine.Engine, fs *cgroups.FS, plan *cgroups.Plan, made []string) error {
	ctl, err := controlFor(cmd, d, g, nil)
	if err != nil {
		return err
	}
	if _, direct := ctl.(*engine.Engine); !direct { // the daemon answered
		st, err := ctl.Status()
		if err != nil {
			return err
		}
		if st.State != drift.InSync {
			return fmt.Errorf("the kernel does not hold the policy in force (%s); see leash status", st.State)
		}
		return awaitClassified(d, e, fs, plan, made)
	}
	snap, err := cgroups.Scan(fs, plan)
	if err != nil {
		return err
	}
	if _, err := e.UpdateLive(cmd.Context(), cgroups.Ops(plan.Elements(snap, compile.ChainName), nil)); err != nil {
		return fmt.Errorf("the kernel does not hold the cgroup sets of the policy in force (leash status says why): %w", err)
	}
	return nil
}

// awaitClassify bounds how long run waits for leash daemon to classify
// the directories it made.
const awaitClassify = 5 * time.Second

// awaitClassified waits until the live snapshot (which the daemon writes
// after every update) holds the id of every directory run made that the
// plan classifies: until then the command's packets would be held.
func awaitClassified(d Deps, e *engine.Engine, fs *cgroups.FS, plan *cgroups.Plan, made []string) error {
	want := map[uint64]string{}
	for _, p := range made {
		if !plan.Classified(p) {
			continue
		}
		if id, ok, err := fs.ID(p); err == nil && ok {
			want[id] = p
		}
	}
	deadline := d.Clock.Now().Add(awaitClassify)
	for len(want) > 0 {
		if snap, err := e.Store.Live(); err == nil && snap != nil {
			for _, s := range snap.Sets {
				for _, id := range s.Cgroups {
					delete(want, id)
				}
			}
		}
		if len(want) == 0 {
			break
		}
		if d.Clock.Now().After(deadline) {
			for _, p := range want {
				return fmt.Errorf("leash daemon has not classified the new cgroup %s within %s (its packets are held)", p, awaitClassify)
			}
		}
		<-d.Clock.After(20 * time.Millisecond)
	}
	return nil
}
