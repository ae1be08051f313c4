package cgroups

import "testing"

func TestParseMountinfo(t *testing.T) {
	data := []byte("25 1 8:1 / / rw - ext4 /dev/sda1 rw\n41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n")
	if got, ok := parseMountinfo(data); !ok || got != "/sys/fs/cgroup/unified" {
		t.Errorf("parseMountinfo = %q, %v", got, ok)
	}
	if _, ok := parseMountinfo([]byte("25 1 8:1 / / rw - ext4 /dev/sda1 rw\n")); ok {
		t.Error("found a cgroup2 mount where there is none")
	}
}

func TestSliceOf(t *testing.T) {
	for in, want := range map[string]string{"x.slice/y.slice": "y.slice", "system.slice/a.service": "", "m.slice": "m.slice"} {
		if got := SliceOf(in); got != want {
			t.Errorf("SliceOf(%q) = %q, want %q", in, got, want)
		}
	}
}
