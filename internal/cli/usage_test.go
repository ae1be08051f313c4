package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommandLineMistakes: an unknown command or flag, a bad flag value,
// the wrong number of arguments and a number in any other spelling than
// plain decimal are invalid input, exit 2, with what to write instead
// (pflag alone read --uid 01001 as octal 513 and exited 1 for the rest).
func TestCommandLineMistakes(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown command", args: []string{"stauts"}, wantErr: `unknown command "stauts" for "leash"; did you mean status?`},
		{name: "unknown flag", args: []string{"check", "--bogus"}, wantErr: "unknown flag: --bogus"},
		{name: "bad duration", args: []string{"status", "--lock-timeout", "soon"}, wantErr: `invalid argument "soon" for "--lock-timeout"`},
		{name: "missing argument", args: []string{"validate"}, wantErr: "accepts 1 arg(s), received 0"},
		{name: "extra argument", args: []string{"validate", "a.yaml", "b.yaml"}, wantErr: "accepts 1 arg(s), received 2"},
		{name: "octal uid", args: []string{"check", "--uid", "01001", "--to", "192.0.2.1"}, wantErr: "leading zeros are not allowed; write 1001"},
		{name: "hexadecimal gid", args: []string{"check", "--uid", "5", "--gid", "0x10", "--to", "192.0.2.1"}, wantErr: "hexadecimal numbers are not allowed; write 16"},
		{name: "uid out of range", args: []string{"check", "--uid", "4294967295", "--to", "192.0.2.1"}, wantErr: "not a number from 0 to 4294967294"},
		{name: "zero-padded generation", args: []string{"rollback", "007"}, wantErr: "rollback 007: give a generation number (see leash history): leading zeros are not allowed; write 7"},
		{name: "generation 0", args: []string{"rollback", "0"}, wantErr: "generations start at 1"},
		{name: "signed size", args: []string{"log", "collect", "--max-size", "+5"}, wantErr: "a + sign is not allowed; write 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := New(Deps{Stdout: &out, Stderr: &out})
			root.SetArgs(tt.args)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("leash %s: error %v, want one containing %q", strings.Join(tt.args, " "), err, tt.wantErr)
			}
			if code := ExitCode(err); code != 2 {
				t.Errorf("leash %s: exit %d, want 2", strings.Join(tt.args, " "), code)
			}
		})
	}
}
