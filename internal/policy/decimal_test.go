package policy

import (
	"testing"

	"github.com/leash-dev/leash/internal/services"
)

func TestParseDecimal(t *testing.T) {
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
			got, err := parseDecimal(tt.in)
			switch {
			case tt.wantErr != "":
				if !spelling(err) || err.Error() != tt.wantErr {
					t.Errorf("parseDecimal(%q) = %d, %v; want spelling error %q", tt.in, got, err, tt.wantErr)
				}
			case tt.wantBad:
				if err == nil || spelling(err) {
					t.Errorf("parseDecimal(%q) = %d, %v; want a non-spelling error", tt.in, got, err)
				}
			case err != nil || got != tt.want:
				t.Errorf("parseDecimal(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseTargetDecimalPort(t *testing.T) {
	svc := services.New()
	for in, want := range map[string]string{
		"192.0.2.1:0443":  `"192.0.2.1:0443": port 0443: leading zeros are not allowed; write 443`,
		"192.0.2.1:0x50":  `"192.0.2.1:0x50": port 0x50: hexadecimal numbers are not allowed; write 80`,
		"192.0.2.1:70000": `"192.0.2.1:70000": port 70000 is out of range; ports go from 1 to 65535`,
	} {
		if _, err := ParseTarget(in, svc); err == nil || err.Error() != want {
			t.Errorf("ParseTarget(%q) error = %v, want %s", in, err, want)
		}
	}
	if tg, err := ParseTarget("192.0.2.1:443", svc); err != nil || tg.Port != 443 {
		t.Errorf("ParseTarget(443) = %+v, %v", tg, err)
	}
}
