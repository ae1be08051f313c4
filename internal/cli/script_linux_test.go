package cli_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/detach"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/safefile"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
	"github.com/leash-dev/leash/internal/sockowner"
	"github.com/leash-dev/leash/internal/state"
)

// TestMain makes the test binary double as a `leash` command whose users,
// groups, services and DNS come from the policytest fixture, so the scripts
// in testdata/script run the real command tree on any machine.
func TestMain(m *testing.M) {
	if sandboxtest.IsProbeChild() { // a sandbox probe run by `leash test`
		os.Exit(sandbox.ProbeMain(os.Args[1:], os.Stdout))
	}
	testscript.Main(m, map[string]func(){"leash": fixtureLeash})
}

func fixtureLeash() {
	root := cli.New(cli.Deps{
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Env: func(_ context.Context, opt cli.EnvOptions) (policy.Env, error) {
			env := policytest.Env(policytest.DefaultIDs)
			if opt.Passwd != "" || opt.Group != "" { // as in production: files replace the user database
				dir, err := identity.LoadFiles(opt.Passwd, opt.Group)
				if err != nil {
					return policy.Env{}, err
				}
				env.Directory = dir
			}
			if fs, err := cgroups.Mount("/proc/self/mountinfo"); err == nil { // as in production
				env.Cgroups = fs
			}
			return env, nil
		},
		OpenKernel: func(ns string) (cli.Kernel, error) {
			if ns == "" {
				// Tests must never touch the host's own firewall.
				return nil, fmt.Errorf("test fixture: refusing to use the root network namespace; pass --netns $NS")
			}
			return nft.OpenNetNS(ns)
		},
		OpenOwningKernel: func(ns string) (daemon.OwningKernel, error) {
			if ns == "" {
				return nil, fmt.Errorf("test fixture: refusing to use the root network namespace; pass --netns $NS")
			}
			return nft.OpenNetNS(ns, nft.Owning())
		},
		WatchTable: func(ctx context.Context, ns string, changes chan<- nft.TableChange) error {
			if ns == "" {
				return fmt.Errorf("test fixture: refusing to watch the root network namespace; pass --netns $NS")
			}
			c, err := nft.OpenNetNS(ns)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Watch(ctx, changes)
		},
		LocalAddrs: func(string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.10")}, nil
		},
		RouteOif: func(ns string, dst netip.Addr) (string, error) {
			if ns == "" {
				return "", nil // the host's routes would make the scripts depend on the machine
			}
			return netns.RouteOif(ns, dst)
		},
		Sockets: func(ctx context.Context, ns string) ([]cli.OwnedSocket, error) {
			if ns == "" {
				return nil, fmt.Errorf("test fixture: refusing to list the root network namespace's sockets; pass --netns $NS")
			}
			return sockowner.ListAll(ctx, ns)
		},
		ReadFile:     safefile.Read, // as in production
		Now:          func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) },
		ProbeCommand: []string{probeExe()},
		// Deadlines pass for real, so `apply --confirm 2s` reverts in 2s.
		Clock: clock.Real{},
		// The reverter is this fixture again ($PATH's leash), detached for
		// real; its --netns is the script's namespace.
		Running:    detach.Running,
		Getenv:     os.Getenv,
		NewWatcher: func() (daemon.Watcher, error) { return daemon.NewFileWatcher() },
		Cgroups:    func() (*cgroups.FS, error) { return cgroups.Mount("/proc/self/mountinfo") },
		Namespace: func(name string) (*state.Namespace, error) {
			id, err := netns.Identify(name)
			if err != nil {
				return nil, err
			}
			return &state.Namespace{Init: id.Init, Name: id.Name, Inode: id.Inode}, nil
		},
		Spawn: func(args []string, logPath string) (int, error) {
			return detach.Start(append([]string{probeExe()}, args...), logPath)
		},
		Executable: probeExe(),
		Systemctl: func(context.Context, ...string) error {
			return fmt.Errorf("test fixture: refusing to run systemctl; use install-service --root")
		},
		OpenDenyLog: func(ns string, group uint16, log *slog.Logger) (denylog.Source, error) {
			if ns == "" {
				return nil, fmt.Errorf("test fixture: refusing to read the root network namespace's NFLOG groups; pass --netns $NS")
			}
			return denylog.OpenReader(denylog.ReaderConfig{NetNS: ns, Group: group, Now: time.Now, Log: log})
		},
		OpenProcessLookup: func(ns string) (cli.ProcessLookup, error) {
			if ns == "" {
				return nil, fmt.Errorf("test fixture: refusing to look up the root network namespace's sockets; pass --netns $NS")
			}
			return denylog.OpenSocketOwners(ns)
		},
	})
	// As cmd/leash: Ctrl-C and SIGTERM cancel the command's context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	cli.Report(os.Stderr, err)
	os.Exit(cli.ExitCode(err))
}

func probeExe() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Examples are copied in so scripts can refer to them.
			if err := copyExamples(env.WorkDir); err != nil {
				return err
			}
			return kernelSetup(env)
		},
		Condition: func(cond string) (bool, error) {
			if cond == "kernel" {
				return os.Geteuid() == 0, nil
			}
			if name, ok := strings.CutPrefix(cond, "tool:"); ok {
				return haveTool(name)
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// haveTool is the condition [tool:NAME]: whether NAME is on PATH. Under CI
// a missing tool fails the script instead of skipping it (scripts/deps.sh
// installs every tool a script needs).
func haveTool(name string) (bool, error) {
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			return false, fmt.Errorf("CI requires %s for this script (scripts/deps.sh installs it): %w", name, err)
		}
		return false, nil
	}
	return true, nil
}

var nsCount atomic.Int32

// kernelSetup gives every script its own network namespace, named in $NS,
// removed when the script ends. Scripts that touch the kernel start with
// `[!kernel] skip`; under CI a missing capability fails instead.
func kernelSetup(env *testscript.Env) error {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			return fmt.Errorf("CI requires the kernel CLI scripts to run: not root")
		}
		return nil
	}
	ns, err := netns.Create(fmt.Sprintf("leash-cli-%d-%d", os.Getpid(), nsCount.Add(1)))
	if err != nil {
		return err
	}
	env.Defer(func() { ns.Close() })
	env.Defer(func() { removeCgroups("leash-run-test-" + ns.Name) })
	env.Setenv("NS", ns.Name)
	return nil
}

// removeCgroups removes the cgroup tree top (below the cgroup2 mount) a
// script left behind, deepest first; a cgroup that still has processes
// stays.
func removeCgroups(top string) {
	fs, err := cgroups.Mount("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var dirs []string
	filepath.WalkDir(fs.Dir(top), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

func copyExamples(dir string) error {
	if err := os.MkdirAll(dir+"/examples", 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile("../../examples/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(dir+"/examples/"+e.Name(), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
