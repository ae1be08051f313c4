package decimal

import "testing"

// TestParse: plain decimal only; every other spelling YAML 1.1 or base 0
// would read is a spelling error naming the decimal meant.
func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		// wantErr is the spelling complaint, "" for none; range and
		// not-a-number errors are checked with wantBad.
		wantErr string
		wantBad bool
	}{
		{name: "plain", in: "443", want: 443},
		{name: "zero", in: "0", want: 0},
		{name: "octal-looking", in: "01001", wantErr: "leading zeros are not allowed; write 1001"},
		{name: "double zero", in: "00", wantErr: "leading zeros are not allowed; write 0"},
		{name: "hex", in: "0x10", wantErr: "hexadecimal numbers are not allowed; write 16"},
		{name: "hex upper", in: "0XfF", wantErr: "hexadecimal numbers are not allowed; write 255"},
		{name: "octal", in: "0o17", wantErr: "octal numbers are not allowed; write 15"},
		{name: "binary", in: "0b11", wantErr: "binary numbers are not allowed; write 3"},
		{name: "separator", in: "1_001", wantErr: "digit separators (_) are not allowed; write 1001"},
		{name: "plus", in: "+1002", wantErr: "a + sign is not allowed; write 1002"},
		{name: "zeros and separator", in: "012_3", wantErr: "digit separators (_) are not allowed; write 123"},
		{name: "huge hex", in: "0xffffffffffffffffffff", wantErr: "hexadecimal numbers are not allowed; write 1208925819614629174706175"},
		{name: "negative", in: "-5", wantBad: true},
		{name: "two signs", in: "+-5", wantBad: true},
		{name: "name", in: "apache", wantBad: true},
		{name: "hex-only letters", in: "beef", wantBad: true},
		{name: "too big", in: "99999999999999999999", wantBad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			switch {
			case tt.wantErr != "":
				if !Spelling(err) || err.Error() != tt.wantErr {
					t.Errorf("Parse(%q) = %d, %v; want spelling error %q", tt.in, got, err, tt.wantErr)
				}
			case tt.wantBad:
				if err == nil || Spelling(err) {
					t.Errorf("Parse(%q) = %d, %v; want a non-spelling error", tt.in, got, err)
				}
			case err != nil || got != tt.want:
				t.Errorf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}
