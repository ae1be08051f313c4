package denylog

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
)

// Test users of this package (ids distinct from other packages' tests).
const (
	testUID  = 64501
	floodUID = 64502
	testGrp  = 4243 // not the default, to show the group is an option
)

// contractTable is a table shaped like the compiler's output for logged
// denials: a rate-limited log rule carrying "leash <rule> <verdict>" right
// before the rule that drops or rejects. %[1]d is the group, %[2]d the test
// uid, %[3]d the flood uid, %[4]s the flood rule's limit statement.
const contractTable = `
table inet leash {
	chain output {
		type filter hook output priority 0; policy accept;
		meta skuid %[2]d meta l4proto tcp limit rate 10/second burst 20 packets log prefix "leash test/r1 drop" group %[1]d
		meta skuid %[2]d meta l4proto tcp drop comment "test/r1"
		meta skuid %[2]d meta l4proto udp limit rate 10/second burst 20 packets log prefix "leash test/default reject" group %[1]d
		meta skuid %[2]d meta l4proto udp reject comment "test/default"
		meta skuid %[3]d %[4]s counter log prefix "leash flood/r1 drop" group %[1]d
		meta skuid %[3]d drop comment "flood/r1"
	}
}
`

func installContract(t *testing.T, ns *netns.NS, floodLimit string) {
	t.Helper()
	nft(t, ns, fmt.Sprintf(contractTable, testGrp, testUID, floodUID, floodLimit), "-f", "-")
}

// logCounter reads the packets counted by the flood rule's log statement.
func logCounter(t *testing.T, ns *netns.NS) uint64 {
	t.Helper()
	out := nft(t, ns, "", "list", "chain", "inet", "leash", "output")
	m := regexp.MustCompile(`counter packets (\d+) bytes \d+ log prefix "leash flood/r1 drop"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no flood log counter in:\n%s", out)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// collector runs a pipeline over a reader of the test group in ns and
// gathers its records until stop is called.
type collector struct {
	mu      sync.Mutex
	records []Record
	stop    func() error
	reader  *Reader
}

func collect(t *testing.T, ns *netns.NS, en *Enricher, cfg ReaderConfig) *collector {
	t.Helper()
	cfg.NetNS, cfg.Group = ns.Name, testGrp
	r, err := OpenReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p := NewPipeline(en, time.Now, log)
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{reader: r}
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, r, func(rec Record) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.records = append(c.records, rec)
			return nil
		}, nil)
	}()
	var once sync.Once
	var runErr error
	c.stop = func() error {
		once.Do(func() {
			time.Sleep(300 * time.Millisecond) // let the kernel's batch arrive
			cancel()
			runErr = <-done
			r.Close()
		})
		return runErr
	}
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *collector) events() (es []*Event, losses []*Loss) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.records {
		if r.Event != nil {
			es = append(es, r.Event)
		} else {
			losses = append(losses, r.Loss)
		}
	}
	return es, losses
}

func TestKernelOneDenial(t *testing.T) {
	ns := testNS(t)
	sandboxtest.Users(t, sandboxtest.UserSpec{Name: "dlog", UID: testUID})
	installContract(t, ns, "")
	c := collect(t, ns, &Enricher{}, ReaderConfig{})

	if err := child(t, ns, testUID, "tcp 10.99.0.1:8080 1 1500ms").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	es, losses := c.events()
	for _, e := range es {
		t.Logf("%+v", *e)
	}
	t.Logf("losses %v counters %+v", losses, c.reader.Counters())
}
