package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/drift"
)

// Kernel metrics defaults.
const (
	// DefaultMinInterval: scrapes closer together than this share one read
	// of the table, so the scrape rate never sets the cost.
	DefaultMinInterval = 5 * time.Second
	// ReadBudget: the reads never take more than 1/ReadBudget of the time
	// (a read that took 2 s is not repeated for 20 s, whatever
	// MinInterval), so a huge table bounds the daemon's CPU too.
	ReadBudget = 10
	// DefaultMaxRuleSeries caps the rule series (per rule id and verdict);
	// rules beyond it, in table order, are left out and counted in
	// leash_rule_series_dropped. The policy totals always cover every rule.
	DefaultMaxRuleSeries = 2000
	// DefaultMaxPolicySeries caps the policy series the same way.
	DefaultMaxPolicySeries = 1000
)

// CounterReader reads the kernel's counters: nil, nil when there is no
// table (engine.Engine.Counters).
type CounterReader func() ([]drift.ChainCounters, error)

// kernelCollector exports the table's counters, read at scrape time (at
// most once per minInterval; the read is one dump of the table, the same
// as leash status).
type kernelCollector struct {
	read        CounterReader
	clock       clock.Clock
	minInterval time.Duration
	maxRules    int
	maxPolicies int

	policyPackets, policyBytes, rulePackets, ruleBytes *prometheus.Desc
	tableLoaded, readSeconds, readErrors, dropped      *prometheus.Desc

	mu       sync.Mutex
	readAt   time.Duration // clock.Mono of the last read; 0: never
	have     bool
	counters []drift.ChainCounters
	took     time.Duration
	errors   uint64
}

func newKernelCollector(o Options) *kernelCollector {
	c := &kernelCollector{read: o.Counters, clock: o.Clock, minInterval: o.MinInterval, maxRules: o.MaxRuleSeries, maxPolicies: DefaultMaxPolicySeries}
	if c.minInterval <= 0 {
		c.minInterval = DefaultMinInterval
	}
	if c.maxRules <= 0 {
		c.maxRules = DefaultMaxRuleSeries
	}
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	c.policyPackets = prometheus.NewDesc(name("policy_packets_total"), "Packets judged by a policy's chain since the table was loaded, allowed or denied (resets when a new table is applied).", []string{"policy", "verdict"}, nil)
	c.policyBytes = prometheus.NewDesc(name("policy_bytes_total"), "Bytes judged by a policy's chain since the table was loaded, allowed or denied.", []string{"policy", "verdict"}, nil)
	c.rulePackets = prometheus.NewDesc(name("rule_packets_total"), "Packets matched by the kernel rules of one policy rule and verdict since the table was loaded (rule is the policy's rule id: webmail/r1, webmail/default; policy is empty for the baseline chains).", []string{"policy", "rule", "verdict"}, nil)
	c.ruleBytes = prometheus.NewDesc(name("rule_bytes_total"), "Bytes matched by the kernel rules of one policy rule and verdict since the table was loaded.", []string{"policy", "rule", "verdict"}, nil)
	c.tableLoaded = prometheus.NewDesc(name("table_loaded"), "1 when the kernel held table inet leash at the last read.", nil, nil)
	c.readSeconds = prometheus.NewDesc(name("kernel_read_duration_seconds"), "How long the last read of the table's counters took.", nil, nil)
	c.readErrors = prometheus.NewDesc(name("kernel_read_errors_total"), "Reads of the table's counters that failed.", nil, nil)
	c.dropped = prometheus.NewDesc(name("rule_series_dropped"), "Rule or policy series left out at the last read because of the series cap.", nil, nil)
	return c
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.policyPackets, c.policyBytes, c.rulePackets, c.ruleBytes, c.tableLoaded, c.readSeconds, c.readErrors, c.dropped} {
		ch <- d
	}
}

// Collect reads the counters if the last read is older than minInterval
// and ReadBudget times its own duration (a failed read keeps the previous
// counters and counts an error) and exports them.
func (c *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Mono()
	if !c.have || now-c.readAt >= max(c.minInterval, ReadBudget*c.took) {
		counters, err := c.read()
		c.took = c.clock.Mono() - now
		c.readAt, c.have = now, true
		if err != nil {
			c.errors++
		} else {
			c.counters = counters
		}
	}
	ch <- prometheus.MustNewConstMetric(c.readErrors, prometheus.CounterValue, float64(c.errors))
	ch <- prometheus.MustNewConstMetric(c.readSeconds, prometheus.GaugeValue, c.took.Seconds())
	ch <- prometheus.MustNewConstMetric(c.tableLoaded, prometheus.GaugeValue, b2f(c.counters != nil))
	dropped := c.export(ch)
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.GaugeValue, float64(dropped))
}

// export sends the policy and rule series, summed per label set (so no
// two series share labels), at most maxPolicies and maxRules of them in
// table order; it returns how many were left out.
func (c *kernelCollector) export(ch chan<- prometheus.Metric) int {
	type key struct{ policy, rule, verdict string }
	var policyKeys, ruleKeys []key
	sums := map[key]*drift.Count{}
	add := func(keys *[]key, k key, n drift.Count) {
		s, ok := sums[k]
		if !ok {
			s = &drift.Count{}
			sums[k] = s
			*keys = append(*keys, k)
		}
		s.Packets += n.Packets
		s.Bytes += n.Bytes
	}
	for _, cc := range c.counters {
		if cc.Policy != "" {
			add(&policyKeys, key{policy: cc.Policy, verdict: "allowed"}, cc.Allowed)
			add(&policyKeys, key{policy: cc.Policy, verdict: "denied"}, cc.Denied)
		}
		for _, r := range cc.Rules {
			switch r.Verdict {
			case "accept", "drop", "reject", "log":
				add(&ruleKeys, key{policy: cc.Policy, rule: r.ID, verdict: r.Verdict}, r.Count)
			}
		}
	}
	dropped := 0
	for i, k := range policyKeys {
		if i >= 2*c.maxPolicies {
			dropped += len(policyKeys) - i
			break
		}
		s := sums[k]
		ch <- prometheus.MustNewConstMetric(c.policyPackets, prometheus.CounterValue, float64(s.Packets), k.policy, k.verdict)
		ch <- prometheus.MustNewConstMetric(c.policyBytes, prometheus.CounterValue, float64(s.Bytes), k.policy, k.verdict)
	}
	for i, k := range ruleKeys {
		if i >= c.maxRules {
			dropped += len(ruleKeys) - i
			break
		}
		s := sums[k]
		ch <- prometheus.MustNewConstMetric(c.rulePackets, prometheus.CounterValue, float64(s.Packets), k.policy, k.rule, k.verdict)
		ch <- prometheus.MustNewConstMetric(c.ruleBytes, prometheus.CounterValue, float64(s.Bytes), k.policy, k.rule, k.verdict)
	}
	return dropped
}
