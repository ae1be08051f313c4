package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

type historyJSON struct {
	state.Meta
	Current bool `json:"current,omitempty"`
	Pending bool `json:"pending,omitempty"`
	// PendingState is how the pending confirmation stands: pending,
	// overdue or orphaned (see engine.PendingState).
	PendingState engine.PendingState `json:"pending_state,omitempty"`
	Deadline     *time.Time          `json:"deadline,omitempty"`
	Error        string              `json:"error,omitempty"`
	// Interrupted is set on a generation whose change is not recorded as
	// done: what the next leash that takes the lock does with it
	// ("rolled forward", "rolled back"; "undecided" when the kernel could
	// not be read).
	Interrupted string `json:"interrupted,omitempty"`
}

func historyCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List the stored generations, oldest first",
		Long: `List every stored generation: its number, when it was made, how (apply,
rollback, automatic revert, reset, reapply), the policy file and a short
summary. The current generation is marked with *, one awaiting
confirmation with its deadline. leash keeps the newest 50 generations, and
always the current one and the ones a pending confirmation needs.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := engineFor(cmd, d, g, args).History()
			if err != nil {
				return err
			}
			if h.CurrentErr != nil {
				fmt.Fprintf(d.Stderr, "leash: %s\n", termtext.Escape(h.CurrentErr.Error()))
			}
			rows := historyRows(h.Entries, h.Current, h.Pending, h.Interrupted)
			if g.json {
				if err := printJSON(d.Stdout, rows); err != nil {
					return err
				}
				return historyHealth(d, h, false)
			}
			if len(rows) == 0 {
				fmt.Fprintf(d.Stdout, "nothing applied yet: no generations in %s\n", termtext.Escape(g.stateDir))
			} else {
				printHistory(d, rows, h.Pending)
			}
			if h.Interrupted != nil {
				fmt.Fprintf(d.Stdout, "note: %s.\n", termtext.Escape(h.Interrupted.String()))
			}
			return historyHealth(d, h, true)
		},
	}
}

// historyHealth is history's exit status: 1 when the pending confirmation
// is overdue, orphaned or unreadable, said on stdout (text) or stderr.
func historyHealth(d Deps, h *engine.History, text bool) error {
	if h.Healthy() == nil {
		return nil
	}
	if text {
		fmt.Fprintf(d.Stdout, "%s.\n", termtext.Escape(h.Pending.String()))
	} else {
		fmt.Fprintf(d.Stderr, "leash: %s\n", termtext.Escape(h.Pending.String()))
	}
	return &exitError{code: 1}
}

func historyRows(entries []state.Entry, cur int, rep *engine.PendingReport, intr *engine.Interrupted) []historyJSON {
	rows := make([]historyJSON, 0, len(entries))
	for _, e := range entries {
		r := historyJSON{Meta: e.Meta, Current: e.ID == cur}
		if e.Err != nil {
			r.Error = e.Err.Error()
		}
		if intr != nil && intr.Generation == e.ID {
			r.Interrupted = string(intr.Outcome)
			if r.Interrupted == "" {
				r.Interrupted = "undecided"
			}
		}
		if pend := pendingOf(rep); pend != nil && pend.Generation == e.ID {
			r.Pending, r.PendingState = true, rep.State
			dl := pend.Deadline
			r.Deadline = &dl
		}
		rows = append(rows, r)
	}
	return rows
}

func printHistory(d Deps, rows []historyJSON, rep *engine.PendingReport) {
	fmt.Fprintln(d.Stdout, "  GEN  TIME (UTC)           WHAT")
	for _, r := range rows {
		mark := " "
		if r.Current {
			mark = "*"
		}
		line := fmt.Sprintf("%s %3d  ", mark, r.ID)
		switch {
		case r.Error != "":
			line += fmt.Sprintf("%-19s  unreadable: %s", "?", termtext.Escape(r.Error))
		default:
			line += r.Time.UTC().Format("2006-01-02 15:04:05") + "  " + termtext.Escape(engine.How(r.Meta))
			if r.Summary != "" {
				line += ": " + termtext.Escape(r.Summary)
			}
		}
		switch r.Interrupted {
		case "":
		case string(state.RolledForward):
			line += "  [interrupted: in force, not yet recorded as done]"
		case string(state.RolledBack):
			line += "  [interrupted: not in force, dropped by the next leash command]"
		default:
			line += "  [interrupted: whether it is in force is unknown]"
		}
		if r.Pending {
			line += "  " + pendingMark(rep)
		}
		fmt.Fprintln(d.Stdout, line)
	}
	fmt.Fprintln(d.Stdout, "(* = current)")
}

// pendingOf is rep's record (nil: none, or unreadable).
func pendingOf(rep *engine.PendingReport) *state.Pending {
	if rep == nil {
		return nil
	}
	return rep.Pending
}

// pendingMark is history's note on the generation awaiting confirmation.
func pendingMark(rep *engine.PendingReport) string {
	p := rep.Pending
	back := "removes the table"
	if p.Previous > 0 {
		back = fmt.Sprintf("reverts to %d", p.Previous)
	}
	switch rep.State {
	case engine.PendingOverdue:
		return fmt.Sprintf("[OVERDUE: %s at %s unless confirmed, and has not]", back, stamp(p.Deadline))
	case engine.PendingOrphaned:
		return fmt.Sprintf("[ORPHANED: %s at %s unless confirmed, but its reverter is gone]", back, stamp(p.Deadline))
	}
	return fmt.Sprintf("[pending: %s at %s unless confirmed]", back, stamp(p.Deadline))
}
