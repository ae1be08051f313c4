package state

import "testing"

func TestNamespaceSame(t *testing.T) {
	host := &Namespace{Init: true, Inode: 4026531840}
	web1 := &Namespace{Name: "web1", Inode: 4026532290}
	for _, tc := range []struct {
		name string
		a, b *Namespace
		want bool
	}{
		{name: "host and an old record without a namespace", a: host, b: nil, want: true},
		{name: "host and a named one", a: host, b: web1, want: false},
		{name: "an old record is taken as anyone's", a: nil, b: web1, want: true},
		{name: "same name, recreated (new inode)", a: web1, b: &Namespace{Name: "web1", Inode: 4026532999}, want: true},
		{name: "other name", a: web1, b: &Namespace{Name: "web2", Inode: 4026532290}, want: false},
		{name: "unnamed, same inode", a: &Namespace{Inode: 7}, b: &Namespace{Inode: 7}, want: true},
		{name: "unnamed, other inode", a: &Namespace{Inode: 7}, b: &Namespace{Inode: 8}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Same(tc.b); got != tc.want {
				t.Errorf("Same = %v, want %v", got, tc.want)
			}
			if got := tc.b.Same(tc.a); got != tc.want {
				t.Errorf("Same (reversed) = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDirFor(t *testing.T) {
	for _, tc := range []struct {
		ns   *Namespace
		want string
	}{
		{nil, "/var/lib/leash"},
		{&Namespace{Init: true}, "/var/lib/leash"},
		{&Namespace{Name: "web1", Inode: 9}, "/var/lib/leash/netns/web1"},
		{&Namespace{Inode: 9}, "/var/lib/leash/netns/inode-9"},
	} {
		if got := DirFor(DefaultDir, tc.ns); got != tc.want {
			t.Errorf("DirFor(%+v) = %s, want %s", tc.ns, got, tc.want)
		}
	}
}
