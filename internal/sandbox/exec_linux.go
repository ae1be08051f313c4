package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ProbeEnv is set (to "1") in the environment of every probe process, so that
// a test binary used as ProbeCommand knows to run ProbeMain instead of tests.
const ProbeEnv = "LEASH_SANDBOX_PROBE"

// processSlack is how much longer than Probe.Timeout a probe process may live
// (exec and Go runtime start-up) before it is killed.
const processSlack = 5 * time.Second

// Probe runs one connection attempt in a new process with p's uid, gid and
// supplementary groups, born in the client namespace, and returns what it
// observed. An error means no verdict: bad probe, the process failed, or the
// kernel answered with an errno that is no verdict (see package doc).
func (s *Sandbox) Probe(ctx context.Context, p Probe) (Outcome, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Outcome{}, err
	}
	ctx, done, err := s.startProcess(ctx, "Probe", p.Timeout)
	if err != nil {
		return Outcome{}, err
	}
	defer done()
	if p.Proto == TCP || p.Proto == UDP {
		answer := s.peer
		if isClientAddr(p.Addr) && p.From == "" {
			answer = s.local // a connection to this host itself stays in the client
		}
		if err := answer.ensure(p.Proto, netip.AddrPortFrom(p.Addr, p.Port)); err != nil {
			return Outcome{}, err
		}
	}
	out, err := s.runProbe(ctx, p)
	if err != nil {
		return Outcome{}, fmt.Errorf("sandbox: probe %s %v as uid %d: %w", p.Proto, netip.AddrPortFrom(p.Addr, p.Port), p.UID, err)
	}
	s.log.Debug("sandbox: probe", "proto", p.Proto, "addr", p.Addr, "port", p.Port, "uid", p.UID, "gid", p.GID, "outcome", out.String())
	return out, nil
}

// startProcess registers a probe or server process that is to run for
// up to timeout. It fails on a sandbox without a ProbeCommand or once Close
// has started; the context it returns ends processSlack after timeout or
// when the sandbox closes, and done must be called once the process is over.
func (s *Sandbox) startProcess(ctx context.Context, what string, timeout time.Duration) (context.Context, func(), error) {
	if s.probeArgv == nil {
		return nil, nil, fmt.Errorf("sandbox: %s on a sandbox made without Config.ProbeCommand", what)
	}
	if err := s.begin(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+processSlack)
	stop := context.AfterFunc(s.life, cancel)
	return ctx, func() { stop(); cancel(); s.probes.Done() }, nil
}

// runProbe starts the probe process from a thread inside the client
// namespace, waits for it and decodes its JSON outcome.
func (s *Sandbox) runProbe(ctx context.Context, p Probe) (Outcome, error) {
	argv := append(append([]string{}, s.probeArgv...), p.args()...)
	cmd := s.probeProcess(ctx, argv, p.UID, p.GID, p.Groups)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if p.Cgroup != "" {
		fd, err := syscall.Open(p.Cgroup, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return Outcome{}, fmt.Errorf("open cgroup %s: %w", p.Cgroup, err)
		}
		defer syscall.Close(fd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	from := s.client
	if p.From == FromLAN {
		from = s.lan
	}
	if from == nil {
		return Outcome{}, fmt.Errorf("probe from %q: the sandbox has no such namespace (Config.LAN)", p.From)
	}
	if err := from.Do(cmd.Start); err != nil {
		return Outcome{}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return Outcome{}, fmt.Errorf("probe process: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var out Outcome
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Outcome{}, fmt.Errorf("probe process printed no outcome (%w): %q %s", err, stdout.String(), strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// probeProcess is the command of a probe or server process: argv with the
// given credentials, a minimal environment, killed when this process dies.
// The caller starts it inside the client namespace (s.client.Do).
func (s *Sandbox) probeProcess(ctx context.Context, argv []string, uid, gid uint32, groups []uint32) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{ProbeEnv + "=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = s.dir
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: append([]uint32{}, groups...)},
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd
}
