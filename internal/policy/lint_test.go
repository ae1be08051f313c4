package policy

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLint: each warning fires where a careful reviewer would flag the
// file, and not where the file says what it means.
func TestLint(t *testing.T) {
	const head = "version: 1\npolicies:\n"
	for _, tc := range []struct {
		name string
		src  string
		want []string // "LINE:COL: MESSAGE"
	}{
		{name: "clean", src: head + "  - name: web\n    users: [apache]\n    rules:\n      - allow: {to: [192.0.2.1], ports: [https/tcp]}\n    default: deny\n"},
		{name: "empty rule", src: head + "  - name: web\n    users: [apache]\n    rules:\n      - {}\n    default: deny\n",
			want: []string{"6:9: policy \"web\", rule 1 is empty and does nothing"}},
		{name: "log on a default that allows", src: head + "  - name: web\n    users: [apache]\n    default: allow\n    log: true\n",
			want: []string{"6:10: policy web: log: true does nothing: its default allows, and only denials are logged"}},
		{name: "log on a default that denies", src: head + "  - name: web\n    users: [apache]\n    default: deny\n    log: true\n"},
		{name: "a user twice", src: head + "  - name: web\n    users: [apache, bob, apache]\n    default: deny\n",
			want: []string{"4:26: users lists apache twice (first at line 4)"}},
		{name: "a destination and a port twice", src: head + "  - name: web\n    users: [apache]\n    rules:\n      - deny: {to: [192.0.2.1, 192.0.2.1], ports: [22/tcp, 22/tcp]}\n    default: allow\n",
			want: []string{"6:32: to lists 192.0.2.1 twice (first at line 6)", "6:60: ports lists 22/tcp twice (first at line 6)"}},
		{name: "a service for both protocols", src: head + "  - name: web\n    users: [apache]\n    rules:\n      - allow: {ports: [https]}\n    default: deny\n",
			want: []string{"6:25: https opens 443/tcp and 443/udp: /etc/services lists it for both protocols"}},
		{name: "empty lists", src: head + "  - name: web\n    users: [apache]\n    rules:\n      - deny: {to: [], ports: []}\n    default: allow\n",
			want: []string{"6:16: to: [] means any destination, as if it were left out", "6:24: ports: [] means any protocol and port, as if it were left out"}},
		{name: "a named user hides her group's policy", src: head + "  - name: carol-only\n    users: [carol]\n    default: deny\n  - name: support\n    groups: [supporters]\n    rules:\n      - deny: {to: [10.0.0.0/8]}\n    default: allow\n",
			want: []string{"3:5: policy carol-only names uid 1003, also members of the groups of policy support (line 6): their connections are judged by carol-only alone, so support's rules do not apply to them"}},
		{name: "via that limits nothing", src: head + "  - name: lan\n    hosts: [192.168.1.0/24]\n    rules:\n      - allow: {to: [10.0.0.0/8], via: [wg0]}\n    default: allow\n",
			want: []string{"6:35: policy lan: via limits nothing: no rule after it denies, and the default allows what leaves elsewhere"}},
		{name: "via above a deny", src: head + "  - name: lan\n    hosts: [192.168.1.0/24]\n    rules:\n      - allow: {to: [10.0.0.0/8], via: [wg0]}\n      - deny: {to: [10.0.0.0/8]}\n    default: allow\n"},
		{name: "a host and an interface twice", src: head + "  - name: lan\n    hosts: [192.168.1.5, 192.168.1.5]\n    interfaces: [br0, br0]\n    default: deny\n",
			want: []string{"4:26: hosts lists 192.168.1.5 twice (first at line 4)", "5:23: interfaces lists br0 twice (first at line 5)"}},
		{name: "a program's policy hides a user's deny", src: head + "  - name: web\n    units: [nginx.service]\n    rules:\n      - allow: {to: [10.1.0.0/16], ports: [443/tcp]}\n    default: deny\n  - name: lan\n    users: [apache]\n    rules:\n      - deny: {to: [10.0.0.0/8]}\n    default: allow\n",
			want: []string{"4:13: policy web judges its programs instead of the policies of the users they run as: rule r1 of policy lan (deny: {to: [10.0.0.0/8]}) does not apply to them, and web allows some of what it denies"}},
		{name: "a program's policy that allows none of a user's deny", src: head + "  - name: web\n    units: [nginx.service]\n    rules:\n      - allow: {to: [192.0.2.0/24], ports: [443/tcp]}\n    default: deny\n  - name: lan\n    users: [apache]\n    rules:\n      - deny: {to: [10.0.0.0/8]}\n      - deny: {ports: [22/tcp]}\n    default: allow\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load(context.Background(), "p.yaml", []byte(tc.src), testEnv())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var got []string
			for _, w := range r.Lint {
				got = append(got, fmt.Sprintf("%d:%d: %s", w.Pos.Line, w.Pos.Col, w.Message))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
