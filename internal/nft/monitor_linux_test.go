package nft

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestWatch: the monitor reports the transactions that touch leash's
// table, naming their sender, and nothing about other tables.
func TestWatch(t *testing.T) {
	ns, c := newNS(t)
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan TableChange, 16)
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, changes) }()
	next := func(what string) TableChange {
		t.Helper()
		select {
		case ch := <-changes:
			return ch
		case err := <-done:
			t.Fatalf("%s: Watch ended: %v", what, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no change reported within 5s", what)
		}
		return TableChange{}
	}
	// The monitor's socket joins the group asynchronously with respect to
	// this goroutine: retry the first change until it is seen.
	var ch TableChange
	for i := 0; ; i++ {
		if err := c.Apply(sample()); err != nil {
			t.Fatal(err)
		}
		select {
		case ch = <-changes:
		case <-time.After(200 * time.Millisecond):
			if i < 20 {
				continue
			}
			t.Fatal("no change reported for leash's own apply")
		}
		break
	}
	if !ch.Self || !slices.Contains(ch.What, "rule added") {
		t.Errorf("own apply reported as %v (self %v); want self, rules added", ch, ch.Self)
	}
	for len(changes) > 0 { // the retries' applies
		<-changes
	}

	inNS(t, ns, "", "nft", "add", "table", "inet", "other")
	inNS(t, ns, "", "nft", "add", "rule", "inet", "leash", "out", "accept")
	ch = next("a foreign rule")
	if ch.Comm != "nft" || ch.Self || !slices.Equal(ch.What, []string{"rule added"}) {
		t.Errorf("foreign rule reported as %v; want nft, rule added (and nothing about table inet other)", ch)
	}
	inNS(t, ns, "", "nft", "delete", "table", "inet", "leash")
	if ch = next("the table deleted"); !slices.Contains(ch.What, "table deleted") {
		t.Errorf("deletion reported as %v", ch)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch after cancel: %v", err)
	}
}
