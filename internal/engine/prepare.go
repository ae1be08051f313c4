package engine

import (
	"context"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Preparing a replace while its record is written. Validating and encoding
// a large table for the kernel takes a while (200 policies of 1,000 rules:
// about 0.2 s), and so does writing the generation that records it (about
// 0.4 s). The two are independent; the kernel only must not change before
// the record is on disk (record). So apply and reapply prepare the replace
// in the background while record writes, and send it once record calls
// their change.

// preparer is a Kernel that can encode a replace of the table before
// sending it (nft.Conn.PrepareApply): send commits it all or nothing,
// discard drops it unsent.
type preparer interface {
	PrepareApply(ctx context.Context, rs *ruleset.Ruleset) (send func() error, discard func(), err error)
}

// prepared is a replace of the table being prepared.
type prepared struct {
	done    chan struct{}
	full    *ruleset.Ruleset // rs with the live elements carried
	send    func() error
	discard func()
	err     error
	sent    bool
}

// prepare starts preparing the replace of the table by rs on k: the live
// elements carried (withLive), then, where k can (preparer), the
// transaction validated and encoded, in the background. Call send (at most
// once) to change the kernel, and close in any case. Where k cannot
// prepare, or rs is nil (no table), send does all of enforceContext.
func (e *Engine) prepare(ctx context.Context, k Kernel, rs *ruleset.Ruleset) *prepared {
	p := &prepared{done: make(chan struct{})}
	pk, ok := k.(preparer)
	if !ok || rs == nil {
		p.send = func() error { return e.enforceContext(ctx, k, rs) }
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		p.full = e.withLive(k, rs)
		send, discard, err := pk.PrepareApply(ctx, p.full)
		p.err, p.discard = err, discard
		p.send = func() error {
			if err := send(); err != nil {
				return err
			}
			if hasLive(p.full) {
				e.saveLive(snapshotOf(p.full, e.Clock.Now()))
			}
			return nil
		}
	}()
	return p
}

// sendTable waits for the preparation and changes the kernel: as enforce,
// the live snapshot is recorded after a table with live sets went in.
func (p *prepared) sendTable() error {
	<-p.done
	if p.err != nil {
		return p.err
	}
	p.sent = true
	return p.send()
}

// close waits for the preparation and drops it if it was not sent.
func (p *prepared) close() {
	<-p.done
	if !p.sent && p.discard != nil {
		p.discard()
	}
}
