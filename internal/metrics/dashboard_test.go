package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Dashboard is the Grafana dashboard shipped in dist/.
const Dashboard = "../../dist/grafana/leash-dashboard.json"

// metricName finds the metric names in a PromQL expression: leash's, and
// the process collector's.
var metricName = regexp.MustCompile(`\b(?:leash|process|go)_[a-z0-9_]+\b`)

// The dashboard is valid JSON, and every query in it (panel targets and
// template variables) names at least one metric, all of which the daemon
// exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(Dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", Dashboard, err)
	}
	fams, err := full(t).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range fams {
		exported[f.GetName()] = true
	}
	var queries []string
	walk(d, "", func(key, s string) {
		if key == "expr" || key == "definition" {
			queries = append(queries, s)
		}
	})
	if len(queries) < 10 {
		t.Fatalf("%s: only %d queries found", Dashboard, len(queries))
	}
	for _, q := range queries {
		names := metricName.FindAllString(q, -1)
		if len(names) == 0 {
			t.Errorf("query names no metric: %s", q)
		}
		for _, n := range names {
			base := n
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if s, ok := strings.CutSuffix(n, suf); ok && exported[s] {
					base = s
				}
			}
			if !exported[base] {
				t.Errorf("query names %s, which the daemon does not export: %s", n, q)
			}
		}
	}
}

// walk calls fn with every string in v and the key it is under.
func walk(v any, key string, fn func(key, s string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			walk(x, k, fn)
		}
	case []any:
		for _, x := range v {
			walk(x, key, fn)
		}
	case string:
		fn(key, v)
	}
}
