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

func TestFakeMono(t *testing.T) {
	f := NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	f.Advance(time.Minute)
	f.Set(f.Now().Add(-time.Hour)) // the wall clock steps back
	if got := f.Mono(); got != time.Minute {
		t.Errorf("Mono = %v after a wall step, want 1m", got)
	}
}

func TestFakeWallStepLeavesTimers(t *testing.T) {
	f := NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	ch := f.After(time.Minute)
	f.Set(f.Now().Add(time.Hour)) // forward: must not fire
	f.Set(f.Now().Add(-2 * time.Hour))
	select {
	case <-ch:
		t.Fatal("a wall-clock step fired a timer")
	default:
	}
	f.Advance(time.Minute)
	select {
	case <-ch:
	default:
		t.Fatal("the timer did not fire after a minute passed")
	}
}

func TestFakeDueWithin(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	f.After(200 * time.Millisecond)
	f.After(5 * time.Second)
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{100 * time.Millisecond, 0}, {200 * time.Millisecond, 1}, {5 * time.Second, 2}} {
		if got := f.DueWithin(tc.d); got != tc.want {
			t.Errorf("DueWithin(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
