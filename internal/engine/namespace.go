package engine

import (
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/state"
)

// checkNamespace refuses a state directory whose records are another
// network namespace's: the intent of an interrupted change and the current
// generation must be this engine's namespace (NetNS), unless ForceNetNS
// takes the directory over (said through Notify). Records written before
// namespaces were recorded count as the host's.
func (e *Engine) checkNamespace() error {
	var err error
	if in, ierr := e.Store.Intent(); ierr == nil && in != nil && !in.NetNS.Same(e.NetNS) {
		err = &state.NamespaceError{What: fmt.Sprintf("the interrupted change to generation %d", in.Generation), Recorded: in.NetNS, Here: e.NetNS}
	} else if m, merr := e.Store.CurrentMeta(); merr == nil && !m.NetNS.Same(e.NetNS) {
		err = &state.NamespaceError{What: Describe(*m), Recorded: m.NetNS, Here: e.NetNS}
	}
	if err == nil || !e.ForceNetNS {
		return err
	}
	e.warn("%v; taking it over (--force-netns)", err)
	return nil
}

// foreignGeneration is the error for a generation of another namespace
// (nil if it is this engine's, or ForceNetNS is set).
func (e *Engine) foreignGeneration(gen *state.Generation) error {
	if gen == nil || gen.NetNS.Same(e.NetNS) || e.ForceNetNS {
		return nil
	}
	return &state.NamespaceError{What: Describe(gen.Meta), Recorded: gen.NetNS, Here: e.NetNS}
}

// isNamespaceError reports whether err says the records are another
// namespace's.
func isNamespaceError(err error) bool {
	var ne *state.NamespaceError
	return errors.As(err, &ne)
}
