package policy

import (
	"testing"

	"github.com/leash-dev/leash/internal/services"
)

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
