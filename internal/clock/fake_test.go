package clock

import (
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f := NewFake(start)
	ch := f.After(time.Minute)
	select {
	case <-ch:
		t.Fatal("fired before the clock moved")
	default:
	}
	if f.Waiters() != 1 {
		t.Fatalf("Waiters = %d, want 1", f.Waiters())
	}
	f.Advance(59 * time.Second)
	select {
	case <-ch:
		t.Fatal("fired a second early")
	default:
	}
	f.Advance(time.Second)
	if got := <-ch; !got.Equal(start.Add(time.Minute)) {
		t.Errorf("fired at %v, want %v", got, start.Add(time.Minute))
	}
	if got := <-f.After(0); !got.Equal(f.Now()) {
		t.Errorf("After(0) = %v, want now", got)
	}
	f.AutoAdvance(true)
	<-f.After(time.Hour)
	if got, want := f.Now(), start.Add(time.Minute+time.Hour); !got.Equal(want) {
		t.Errorf("auto-advanced to %v, want %v", got, want)
	}
}
