package daemon

import (
	"context"
	"time"

	"github.com/leash-dev/leash/internal/engine"
)

// renewWindows reapplies the generation in force when its time windows
// (`when:`) end within engine.RenewBefore: they are absolute instants up
// to a horizon (internal/compile/when.go), and the reapply compiles the
// next ones. DST changes need nothing: the instants already follow them.
// A failed reapply (the policy no longer compiles) is tried again after
// renewRetry, not at every pass.
func (d *daemon) renewWindows(ctx context.Context) {
	now := d.Clock.Now()
	gen, _, err := d.Engine.View()
	if err != nil || !engine.RenewDue(gen, now) || (!d.renewed.IsZero() && now.Sub(d.renewed) < renewRetry) {
		return
	}
	d.renewed = now
	d.Log.Info("the time windows in force end soon: recompiling them", "until", gen.Windows.Until)
	d.reapply(ctx)
}

// renewRetry is how long the daemon waits before it tries again to renew
// windows after a failed reapply.
const renewRetry = 10 * time.Minute
