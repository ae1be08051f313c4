package clock

import (
	"testing"
	"time"
)

func TestRealMono(t *testing.T) {
	var c Clock = Real{}
	a := c.Mono()
	<-c.After(time.Millisecond)
	if b := c.Mono(); b-a < time.Millisecond {
		t.Errorf("Mono moved %v across a 1ms wait", b-a)
	}
}
