package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/ruleset"
)

// numericNamesEnv is testEnv with users and a group whose names look like
// numbers: "2000" (uid 3000), "2500-2600" (uid 3001), group "1700" (gid 4000).
func numericNamesEnv() Env {
	env := testEnv()
	env.Directory = &identity.Directory{
		Users: append(env.Directory.Users,
			identity.User{Name: "2000", UID: 3000, GID: 4000},
			identity.User{Name: "2500-2600", UID: 3001, GID: 4000}),
		Groups: append(env.Directory.Groups, identity.Group{Name: "1700", GID: 4000}),
	}
	return env
}

// TestNumericNames checks that an entry spelled like a uid, uid range or gid
// that is also a user's or group's name is refused with the fix, and that
// {uid: N}, {user: NAME}, {gid: N} and {group: NAME} say which is meant.
func TestNumericNames(t *testing.T) {
	r := func(lo, hi uint32) ruleset.Range { return ruleset.Range{Lo: lo, Hi: hi} }
	tests := []struct {
		name     string
		subjects string
		wantUIDs []ruleset.Range
		wantGIDs []uint32
		wantErr  string
	}{
		{
			name:     "uid that is a user name",
			subjects: "users: [2000]",
			wantErr:  `t.yaml:4:13: users: 2000 is both a uid and the name of user 2000 (uid 3000); write {uid: 2000} for the uid or {user: "2000"} for the user`,
		},
		{
			name:     "quoted does not help",
			subjects: `users: ["2000"]`,
			wantErr:  `t.yaml:4:13: users: "2000" is both a uid and the name of user 2000 (uid 3000); write {uid: 2000} for the uid or {user: "2000"} for the user`,
		},
		{
			name:     "range that is a user name",
			subjects: "users: [2500-2600]",
			wantErr:  `t.yaml:4:13: users: 2500-2600 is both a uid range and the name of user 2500-2600 (uid 3001); write {uid: 2500-2600} for the uid range or {user: "2500-2600"} for the user`,
		},
		{
			name:     "gid that is a group name",
			subjects: "groups: [1700]",
			wantErr:  `t.yaml:4:14: groups: 1700 is both a gid and the name of group 1700 (gid 4000); write {gid: 1700} for the gid or {group: "1700"} for the group`,
		},
		{name: "explicit uid", subjects: "users: [{uid: 2000}, {uid: 2500-2600}]", wantUIDs: []ruleset.Range{r(2000, 2000), r(2500, 2600)}},
		{name: "explicit user", subjects: `users: [{user: "2000"}, {user: 2500-2600}, {user: alice}]`, wantUIDs: []ruleset.Range{r(1001, 1001), r(3000, 3001)}},
		{name: "explicit gid", subjects: "groups: [{gid: 1700}]", wantGIDs: []uint32{1700}},
		{name: "explicit group", subjects: `groups: [{group: "1700"}]`, wantGIDs: []uint32{4000}},
		{name: "unambiguous number", subjects: "users: [2001, 1000-1099]", wantUIDs: []ruleset.Range{r(1000, 1099), r(2001, 2001)}},
		{
			name:     "uid key with a name",
			subjects: "users: [{uid: alice}]",
			wantErr:  `t.yaml:4:19: users: {uid: alice}: not a uid or uid range; write {user: alice} for a user name`,
		},
		{
			name:     "two keys",
			subjects: "users: [{uid: 1, user: alice}]",
			wantErr:  `t.yaml:4:22: policy "web": users: an entry has one key, user or uid; write one entry per user`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\npolicies:\n  - name: web\n    " + tt.subjects + "\n    default: deny\n"
			res, err := Load(context.Background(), "t.yaml", []byte(src), numericNamesEnv())
			if tt.wantErr != "" {
				if err == nil || strings.TrimSpace(err.Error()) != tt.wantErr {
					t.Fatalf("error = %v\nwant    %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pol := res.Policies[0]
			if diff := cmp.Diff(tt.wantUIDs, pol.UIDs); diff != "" {
				t.Errorf("UIDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGIDs, pol.GIDs); diff != "" {
				t.Errorf("GIDs (-want +got):\n%s", diff)
			}
		})
	}
}
