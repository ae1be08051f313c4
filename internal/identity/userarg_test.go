package identity

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUserArg(t *testing.T) {
	d := &Directory{Users: []User{
		{Name: "apache", UID: 2001, GID: 3000},
		{Name: "1000", UID: 2002, GID: 3000}, // an all-digit name (LDAP)
		{Name: "2002", UID: 2002, GID: 3000}, // its own uid: no ambiguity
		{Name: "bob", UID: 1000, GID: 3000},
		{Name: "01001", UID: 2003, GID: 3000},
	}}
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
		{name: "signed", dir: d, arg: "+5", wantErr: `uid +5: a + sign is not allowed; write 5`},
		{name: "octal-looking", dir: d, arg: "01002", wantErr: `uid 01002: leading zeros are not allowed; write 1002`},
		{name: "hexadecimal", dir: d, arg: "0x10", wantErr: `uid 0x10: hexadecimal numbers are not allowed; write 16`},
		{name: "separator", dir: d, arg: "1_001", wantErr: `uid 1_001: digit separators (_) are not allowed; write 1001`},
		{name: "negative", dir: d, arg: "-1", wantErr: "uid -1 is out of range (0 to 4294967294)"},
		{name: "no uid", dir: d, arg: "4294967295", wantErr: "uid 4294967295 is out of range (0 to 4294967294)"},
		{name: "huge", dir: d, arg: "99999999999999999999", wantErr: "uid 99999999999999999999 is out of range (0 to 4294967294)"},
		{name: "name that is another uid", dir: d, arg: "1000", wantErr: `"1000" is both the name of a user (uid 2002) and uid 1000 (user "bob"); write 2002 for the user named "1000"`},
		{name: "name that is its own uid", dir: d, arg: "2002", want: User{Name: "2002", UID: 2002, GID: 3000}, wantKnown: true},
		{name: "zero-padded name", dir: d, arg: "01001", want: User{Name: "01001", UID: 2003, GID: 3000}, wantKnown: true},
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
