package metrics

import (
	"bytes"
	"os/exec"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/kerneltest"
)

// full returns metrics with every series present: kernel counters of an
// applied policy and one call of every hook.
func full(t *testing.T) *Metrics {
	t.Helper()
	e, k := applied(t)
	count(k, map[string]uint64{"webmail/r1": 3, "webmail/default": 2})
	m := New(Options{Counters: e.Counters})
	m.Ready(true)
	m.Applied(TriggerFile, ResultChanged, 300*time.Millisecond)
	m.Repaired("missing", nil)
	m.DNSRefreshed(nil, 5*time.Millisecond)
	m.Collecting(true)
	m.Logged(denylog.Record{Event: &denylog.Event{Verdict: "drop", Phase: denylog.PhaseFirst, Attempts: 1}})
	return m
}

// The exposition passes `promtool check metrics` (Debian package
// prometheus; scripts/deps.sh installs it): names, types, help, units and
// the conventions of counters and histograms.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		kerneltest.Unavailable(t, "promtool not installed (apt-get install prometheus, or scripts/deps.sh): metrics not linted")
	}
	text, _ := scrape(t, full(t))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewBufferString(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s\n--- input:\n%s", err, out, text)
	}
}
