package policy

import (
	"fmt"
	"testing"

	"github.com/leash-dev/leash/internal/identity"
)

func TestNameSuggesterBounds(t *testing.T) {
	d := &identity.Directory{Users: []identity.User{{Name: "apache", UID: 1}}, Groups: []identity.Group{{Name: "staff", GID: 1}}}
	var n nameSuggester
	if got := n.user(d, "apahce"); got != `; did you mean "apache"?` {
		t.Errorf("user(apahce) = %q", got)
	}
	if got := n.group(d, "stafff"); got != `; did you mean "staff"?` {
		t.Errorf("group(stafff) = %q", got)
	}
	for i := 2; i < maxSuggestions; i++ {
		n.user(d, "apahce")
	}
	if got := n.user(d, "apahce"); got != "" {
		t.Errorf("suggestion %d = %q, want none past the bound", maxSuggestions+1, got)
	}
	big := &identity.Directory{}
	for i := 0; i <= maxSuggestNames; i++ {
		big.Users = append(big.Users, identity.User{Name: fmt.Sprintf("u%d", i), UID: uint32(i)})
	}
	var m nameSuggester
	if got := m.user(big, "u1x"); got != "" {
		t.Errorf("suggestion from a directory over the bound = %q, want none", got)
	}
}
