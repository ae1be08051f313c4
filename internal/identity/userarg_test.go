package identity

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUserArg(t *testing.T) {
	d := &Directory{Users: []User{{Name: "apache", UID: 2001, GID: 3000}}}
	for _, tc := range []struct {
		name      string
		dir       *Directory
		arg       string
		want      User
		wantKnown bool
		wantErr   string
	}{
		{name: "name", dir: d, arg: "apache", want: User{Name: "apache", UID: 2001, GID: 3000}, wantKnown: true},
		{name: "uid of a user", dir: d, arg: "2001", want: User{Name: "apache", UID: 2001, GID: 3000}, wantKnown: true},
		{name: "uid without entry", dir: d, arg: "4242", want: User{UID: 4242}},
		{name: "no directory", arg: "4242", want: User{UID: 4242}},
		{name: "unknown name", dir: d, arg: "nobody", wantErr: `unknown user "nobody" (not in the user database); give a name or a uid`},
		{name: "signed", dir: d, arg: "+5", wantErr: `unknown user "+5" (not in the user database); give a name or a uid`},
		{name: "no uid", dir: d, arg: "4294967295", wantErr: "uid 4294967295 is out of range (0 to 4294967294)"},
		{name: "empty", dir: d, arg: "", wantErr: `unknown user "" (not in the user database); give a name or a uid`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, known, err := tc.dir.UserArg(tc.arg)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("UserArg(%q) error = %v, want %q", tc.arg, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, u); diff != "" || known != tc.wantKnown {
				t.Errorf("UserArg(%q): known %v (want %v), user (-want +got):\n%s", tc.arg, known, tc.wantKnown, diff)
			}
		})
	}
}
