package compile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestMeterSizes: a meter holds a key for every subject or destination it
// covers (a full one refuses), and rate meters forget a key once its
// bucket is full again.
func TestMeterSizes(t *testing.T) {
	limited := func(per policy.LimitPer, conns uint32) *policy.ResolvedRule {
		return &policy.ResolvedRule{Action: policy.Allow, To: to("10.0.0.0/30", "fd00::/126"), Protos: tcp(80),
			Limit: &policy.Limit{Rate: 10, Unit: "minute", Burst: 25, Connections: conns, Per: per, Over: policy.Reject}}
	}
	tests := []struct {
		name     string
		rule     *policy.ResolvedRule
		everyone bool
		want     map[string]ruleset.Meter
	}{
		{name: "per user: the policy's uids", rule: limited(policy.PerUser, 3), want: map[string]ruleset.Meter{
			"p_r1_rate_uid": {Size: 101, Timeout: 180e9}, "p_r1_conns_uid": {Size: 101}}},
		{name: "per user of everyone: at least the default", rule: limited(policy.PerUser, 0), everyone: true,
			want: map[string]ruleset.Meter{"p_r1_rate_uid": {Size: DefaultMeterSize, Timeout: 180e9}}},
		{name: "per destination: its addresses, per family", rule: limited(policy.PerDestination, 0), want: map[string]ruleset.Meter{
			"p_r1_rate_v4": {Size: 4, Timeout: 180e9}, "p_r1_rate_v6": {Size: 4, Timeout: 180e9}}},
		{name: "per rule: no meter", rule: limited(policy.PerRule, 0), want: map[string]ruleset.Meter{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := flatPolicy(tt.rule)
			r.Policies[0].UIDs = []ruleset.Range{{Lo: 1000, Hi: 1099}, {Lo: 2000, Hi: 2000}}
			r.Policies[0].Everyone = tt.everyone
			rs := Compile(r)
			if err := ruleset.Validate(rs); err != nil {
				t.Fatal(err)
			}
			got := map[string]ruleset.Meter{}
			for _, s := range rs.Sets {
				if s.Meter != nil {
					got[s.Name] = *s.Meter
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("meters (-want +got):\n%s\n%s", diff, ruleset.Text(rs, ruleset.TextOptions{}))
			}
		})
	}
}
