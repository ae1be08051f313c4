package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/state"
)

// revertPoll is how often the reverter checks whether its generation was
// confirmed while it waits for the deadline.
const revertPoll = time.Second

func revertPendingCmd(d Deps, g *globals) *cobra.Command {
	var (
		gen      int
		deadline string
	)
	cmd := &cobra.Command{
		Use:   "revert-pending --generation N --deadline TIME",
		Short: "The detached reverter started by apply --confirm",
		Long: `Wait until TIME; if generation N is then still awaiting confirmation,
re-apply the previous generation's stored ruleset (or remove the table if
there was none), record that as a new generation and clear the pending
record. Exits early once N is confirmed or superseded. Logs to stderr
(the state directory's revert.log when started by apply).`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dl, err := time.Parse(time.RFC3339Nano, deadline)
			if err != nil || gen <= 0 {
				return usage("revert-pending: need --generation N and --deadline in RFC 3339")
			}
			logf := func(format string, a ...any) {
				fmt.Fprintf(d.Stderr, "%s leash revert-pending: generation %d: %s\n", d.Clock().UTC().Format(time.RFC3339), gen, fmt.Sprintf(format, a...))
			}
			err = revertAtDeadline(cmd, d, g, gen, dl, logf)
			if err != nil {
				logf("FAILED: %v", err)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&gen, "generation", 0, "the generation awaiting confirmation")
	cmd.Flags().StringVar(&deadline, "deadline", "", "when to revert (RFC 3339)")
	return cmd
}

func revertAtDeadline(cmd *cobra.Command, d Deps, g *globals, gen int, deadline time.Time, logf func(string, ...any)) error {
	st := g.store()
	logf("reverting at %s unless confirmed", clock(deadline))
	due, err := waitDeadline(cmd.Context(), d, st, gen, deadline)
	if err != nil || !due {
		if err == nil {
			logf("confirmed or superseded before the deadline; nothing to do")
		}
		return err
	}
	lk, err := lockState(cmd, d, g, nil)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	p, err := st.Pending()
	if err != nil {
		return err
	}
	if p == nil || p.Generation != gen {
		logf("confirmed or superseded at the deadline; nothing to do")
		return nil
	}
	k, err := openKernel(d, g)
	if err != nil {
		return err
	}
	defer k.Close()
	id, err := revertPending(d, st, k, p, fmt.Sprintf("automatic revert of %d (not confirmed within %s)", gen, p.Window))
	if err != nil {
		return err
	}
	logf("not confirmed within %s: %s, recorded as generation %d", p.Window, revertedTo(p), id)
	return nil
}

// waitDeadline sleeps until deadline (by the real clock), checking every
// revertPoll whether the pending record may still fall back to gen
// (state.Pending.Awaits: a record that replaced gen's confirmation is not
// settled until its change is, so the reverter keeps waiting and decides
// under the lock). It reports whether the revert is due (false: confirmed
// or superseded).
func waitDeadline(ctx context.Context, d Deps, st *state.Store, gen int, deadline time.Time) (bool, error) {
	for {
		// A corrupt record is decided under the lock at the deadline.
		if p, err := st.Pending(); err == nil && !p.Awaits(gen) {
			return false, nil
		}
		left := deadline.Sub(d.Clock())
		if left <= 0 {
			return true, nil
		}
		t := time.NewTimer(min(left, revertPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("stopped before the deadline (%w); leash restore reverts at the next boot", ctx.Err())
		case <-t.C:
		}
	}
}

// revertPending puts p.Previous's stored ruleset back in the kernel (no
// table if there was none), records it as a new generation with note and
// clears p. If the previous generation is unusable it loads the emergency
// table instead, records that, and returns an error saying so. The caller
// holds the lock.
func revertPending(d Deps, st *state.Store, k Kernel, p *state.Pending, note string) (int, error) {
	var prev *state.Generation
	if p.Previous > 0 {
		var err error
		if prev, err = loadIntact(st, p.Previous); err != nil {
			return revertToEmergency(d, st, k, p, note, err)
		}
	}
	id, err := replay(d, st, k, prev, state.Meta{Action: state.ActionRevert, Reverts: p.Generation, Note: note}, note, func(err error) error {
		return fmt.Errorf("%s: the kernel refused the previous table (generation %d stays pending): %w", note, p.Generation, err)
	})
	if err != nil {
		return id, err
	}
	prune(d, st)
	return id, nil
}

func revertToEmergency(d Deps, st *state.Store, k Kernel, p *state.Pending, note string, cause error) (int, error) {
	rs := compile.Emergency()
	gen := &state.Generation{
		Meta: state.Meta{Time: d.Now().UTC(), Action: state.ActionEmergency, Reverts: p.Generation,
			Note: fmt.Sprintf("%s: generation %d unusable, emergency table", note, p.Previous)},
		Ruleset: rs,
	}
	id, err := recordChange(d, st, gen, true, note+": the emergency table", func(int) error {
		if err := k.Apply(rs); err != nil {
			return fmt.Errorf("%s: generation %d is unusable (%v), and the kernel refused the emergency table too: %w", note, p.Previous, cause, err)
		}
		return nil
	})
	if err != nil {
		return id, err
	}
	return id, fmt.Errorf("%s: generation %d cannot be used (%v); the EMERGENCY table is loaded (loopback, established connections, neighbour discovery and DHCP pass, everything else is dropped). Fix: %s or %s",
		note, p.Previous, cause, "leash rollback N", "leash apply FILE")
}

// revertedTo says what a revert of p put back.
func revertedTo(p *state.Pending) string {
	if p.Previous == 0 {
		return "removed table inet leash (there was no earlier generation)"
	}
	return fmt.Sprintf("re-applied generation %d", p.Previous)
}
