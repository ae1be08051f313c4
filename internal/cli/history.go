package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

type historyJSON struct {
	state.Meta
	Current  bool       `json:"current,omitempty"`
	Pending  bool       `json:"pending,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"`
	Error    string     `json:"error,omitempty"`
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st := g.store()
			entries, err := st.History()
			if err != nil {
				return err
			}
			cur, err := st.CurrentID()
			if err != nil && !errors.Is(err, state.ErrNone) {
				fmt.Fprintf(d.Stderr, "leash: %v\n", err)
			}
			// A change a killed leash left half-recorded is shown as the
			// next leash that takes the lock will record it.
			gen, intr, _ := viewCurrent(d, g, st)
			if intr != nil && intr.Outcome == state.RolledForward && gen != nil {
				cur = gen.ID
			}
			pend, err := st.Pending()
			if err != nil {
				fmt.Fprintf(d.Stderr, "leash: %v\n", err)
			}
			rows := historyRows(entries, cur, pend, intr)
			if g.json {
				return printJSON(d.Stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(d.Stdout, "nothing applied yet: no generations in %s\n", st.Dir)
				return nil
			}
			printHistory(d, rows, pend)
			if intr != nil {
				fmt.Fprintf(d.Stdout, "note: %s.\n", intr)
			}
			return nil
		},
	}
}

func historyRows(entries []state.Entry, cur int, pend *state.Pending, intr *interrupted) []historyJSON {
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
		if pend != nil && pend.Generation == e.ID {
			r.Pending = true
			dl := pend.Deadline
			r.Deadline = &dl
		}
		rows = append(rows, r)
	}
	return rows
}

func printHistory(d Deps, rows []historyJSON, pend *state.Pending) {
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
			line += r.Time.UTC().Format("2006-01-02 15:04:05") + "  " + what(r.Meta)
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
			back := "removes the table"
			if pend.Previous > 0 {
				back = fmt.Sprintf("reverts to %d", pend.Previous)
			}
			line += fmt.Sprintf("  [pending: %s at %s unless confirmed]", back, clock(pend.Deadline))
		}
		fmt.Fprintln(d.Stdout, line)
	}
	fmt.Fprintln(d.Stdout, "(* = current)")
}
