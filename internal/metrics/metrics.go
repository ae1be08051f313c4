// Package metrics is the daemon's Prometheus exporter: what the daemon did
// (applies and their duration, drift repairs, hostname refreshes, denials
// and lost log events) and what the kernel counted (packets and bytes per
// policy and per rule verdict, read from table inet leash at scrape time).
//
// Everything is in its own registry (no global state, no default Go
// collectors beyond the process ones), served by Serve on a loopback TCP
// address or a unix socket. Label values are bounded: verdicts, results and
// triggers are closed lists; policy and rule names come from the admin's
// policy file and are capped (MaxRuleSeries); no label ever carries an
// address, a port, a uid or a hostname.
package metrics

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/denylog"
)

// Namespace prefixes every metric name.
const Namespace = "leash"

// The closed label values.
const (
	// Triggers of an apply (label trigger).
	TriggerFile    = "file"    // the policy file changed, or the daemon started with one
	TriggerReapply = "reapply" // users or groups changed: the policy in force recompiled
	// Results of an apply (label result).
	ResultChanged   = "changed"   // a new generation is in force
	ResultUnchanged = "unchanged" // already in force: nothing changed
	ResultFailed    = "failed"    // invalid file, refused by the kernel, lock timeout...
	// Results of a hostname refresh.
	ResultOK    = "ok"
	ResultError = "error"
)

// Metrics holds the daemon's metrics. Its methods are safe for concurrent
// use; a nil *Metrics records nothing (the daemon without --metrics).
type Metrics struct {
	reg   *prometheus.Registry
	clock clock.Clock

	up, ready       prometheus.Gauge
	applies         *prometheus.CounterVec
	applySeconds    *prometheus.HistogramVec
	lastApply       prometheus.Gauge
	fileRejected    prometheus.Gauge
	repairs         *prometheus.CounterVec
	repairErrors    prometheus.Counter
	dnsRefreshes    *prometheus.CounterVec
	dnsSeconds      prometheus.Histogram
	dnsLastOK       prometheus.Gauge
	denials         *prometheus.CounterVec
	deniedPackets   *prometheus.CounterVec
	logLost         prometheus.Counter
	logOverruns     prometheus.Counter
	collectorActive prometheus.Gauge
}

// Options configure New.
type Options struct {
	// Counters reads the kernel's counters (engine.Engine.Counters); nil:
	// no kernel metrics.
	Counters CounterReader
	// MinInterval is the shortest time between two kernel reads: scrapes
	// closer together get the previous read (0: DefaultMinInterval).
	MinInterval time.Duration
	// MaxRuleSeries caps the rule series (0: DefaultMaxRuleSeries).
	MaxRuleSeries int
	Clock         clock.Clock
}

// New returns the metrics in a new registry, with the process and Go
// runtime collectors, up = 1 and ready = 0.
func New(o Options) *Metrics {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	m := &Metrics{reg: prometheus.NewRegistry(), clock: o.Clock}
	f := factory{m.reg}
	m.up = f.gauge("daemon_up", "1 while the leash daemon runs.")
	m.ready = f.gauge("daemon_ready", "1 once the daemon has loaded the generation in force and watches for changes.")
	m.applies = f.counterVec("applies_total", "Policy applies by the daemon, by what triggered them and how they ended.", "trigger", "result")
	m.applySeconds = f.histogramVec("apply_duration_seconds", "How long an apply took: compile (users, groups, DNS) and the kernel transaction.",
		[]float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "trigger")
	m.lastApply = f.gauge("last_apply_success_timestamp_seconds", "When an apply last succeeded (changed or unchanged), Unix time.")
	m.fileRejected = f.gauge("policy_file_rejected", "1 while the last edit of the policy file was not applied (the generation in force stays).")
	m.repairs = f.counterVec("drift_repairs_total", "Times the kernel did not hold the table in force and the daemon loaded it again, by what the kernel held.", "was")
	m.repairErrors = f.counter("drift_repair_errors_total", "Periodic repair passes that failed.")
	m.dnsRefreshes = f.counterVec("dns_refresh_total", "Hostname refreshes, by result (ok, error).", "result")
	m.dnsSeconds = f.histogram("dns_refresh_duration_seconds", "How long a hostname refresh took.", []float64{.005, .01, .05, .1, .5, 1, 5, 30})
	m.dnsLastOK = f.gauge("dns_last_refresh_success_timestamp_seconds", "When a hostname refresh last succeeded, Unix time.")
	m.denials = f.counterVec("denials_total", "Denied connection attempts seen in the denial log (one per attempt, retransmissions folded in), by verdict.", "verdict")
	m.deniedPackets = f.counterVec("denied_packets_logged_total", "Denied packets seen in the denial log (within the per-rule log rate limit), by verdict.", "verdict")
	m.logLost = f.counter("log_lost_total", "Denial log messages the kernel could not deliver (the reader fell behind).")
	m.logOverruns = f.counter("log_overruns_total", "Times the denial log's receive queue overflowed.")
	m.collectorActive = f.gauge("log_collector_active", "1 while this daemon collects the denial log (0: off, or another collector holds the history).")
	for _, v := range []string{"drop", "reject"} {
		m.denials.WithLabelValues(v)
		m.deniedPackets.WithLabelValues(v)
	}
	for _, r := range []string{ResultOK, ResultError} {
		m.dnsRefreshes.WithLabelValues(r)
	}
	for _, t := range []string{TriggerFile, TriggerReapply} {
		for _, r := range []string{ResultChanged, ResultUnchanged, ResultFailed} {
			m.applies.WithLabelValues(t, r)
		}
	}
	m.up.Set(1)
	m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	if o.Counters != nil {
		m.reg.MustRegister(newKernelCollector(o))
	}
	return m
}

// Registry is the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Ready sets leash_daemon_ready.
func (m *Metrics) Ready(ready bool) {
	if m == nil {
		return
	}
	m.ready.Set(b2f(ready))
}

// Applied records one apply: trigger is TriggerFile or TriggerReapply,
// result ResultChanged, ResultUnchanged or ResultFailed.
func (m *Metrics) Applied(trigger, result string, took time.Duration) {
	if m == nil {
		return
	}
	m.applies.WithLabelValues(trigger, result).Inc()
	m.applySeconds.WithLabelValues(trigger).Observe(took.Seconds())
	if result != ResultFailed {
		m.lastApply.Set(unix(m.clock.Now()))
	}
	if trigger == TriggerFile {
		m.fileRejected.Set(b2f(result == ResultFailed))
	}
}

// Repaired records a periodic repair pass: was is what the kernel held
// when the table was loaded again ("" when nothing needed repair), err its
// failure.
func (m *Metrics) Repaired(was string, err error) {
	if m == nil {
		return
	}
	switch {
	case err != nil:
		m.repairErrors.Inc()
	case was != "":
		m.repairs.WithLabelValues(was).Inc()
	}
}

// DNSRefreshed records one hostname refresh (the daemon's TTL refresher
// calls it once per refresh of a name): err nil counts as ok. No label
// names the hostname.
func (m *Metrics) DNSRefreshed(err error, took time.Duration) {
	if m == nil {
		return
	}
	m.dnsSeconds.Observe(took.Seconds())
	if err != nil {
		m.dnsRefreshes.WithLabelValues(ResultError).Inc()
		return
	}
	m.dnsRefreshes.WithLabelValues(ResultOK).Inc()
	m.dnsLastOK.Set(unix(m.clock.Now()))
}

// Collecting sets leash_log_collector_active.
func (m *Metrics) Collecting(active bool) {
	if m == nil {
		return
	}
	m.collectorActive.Set(b2f(active))
}

// Logged counts one record of the denial log: an attempt's first record
// counts a denial and a packet, its later one (PhaseMore) the packets
// folded into it, a loss report the lost messages and overruns.
func (m *Metrics) Logged(r denylog.Record) {
	if m == nil {
		return
	}
	switch {
	case r.Loss != nil:
		m.logLost.Add(float64(r.Loss.Lost))
		m.logOverruns.Add(float64(r.Loss.Overruns))
	case r.Event != nil:
		v := r.Event.Verdict
		if v != "drop" && v != "reject" {
			return // the closed list: a malformed record is not a new series
		}
		if r.Event.Phase == denylog.PhaseMore {
			if r.Event.Attempts > 1 {
				m.deniedPackets.WithLabelValues(v).Add(float64(r.Event.Attempts - 1))
			}
			return
		}
		m.denials.WithLabelValues(v).Inc()
		m.deniedPackets.WithLabelValues(v).Inc()
	}
}

// factory registers leash_* metrics in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// errAddr is wrapped by Listen for an address it refuses.
var errAddr = errors.New("metrics address")
