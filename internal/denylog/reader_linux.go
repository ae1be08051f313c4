package denylog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	nflog "github.com/florianl/go-nflog/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/netns"
)

// Reader defaults.
const (
	// DefaultCopyRange is how much of each packet the kernel copies: an IPv6
	// header with a few extension headers and any transport header fit.
	DefaultCopyRange = 256
	// DefaultQueueLen is how many messages wait between the socket and the
	// pipeline.
	DefaultQueueLen = 4096
	// DefaultReadBuffer is the socket's receive buffer. A message is about
	// 400 bytes of buffer (copy range, attributes, skb overhead), so this holds
	// some 10,000 messages while the reader is busy.
	DefaultReadBuffer = 4 << 20
	// DefaultBatch and DefaultFlushTimeout tune the kernel's batching: it
	// sends once Batch messages wait, or FlushTimeout after the first.
	DefaultBatch        = 32
	DefaultFlushTimeout = 50 * time.Millisecond
)

// ErrGroupBusy is returned (wrapped) by OpenReader when another socket has
// bound the NFLOG group in that namespace: a collector, or another tool.
var ErrGroupBusy = errors.New("NFLOG group is bound by another process")

// ReaderConfig says which NFLOG group to read, where, and how.
type ReaderConfig struct {
	NetNS        string // named network namespace; "" is the current one
	Group        uint16
	CopyRange    uint32        // 0: DefaultCopyRange
	QueueLen     int           // 0: DefaultQueueLen
	ReadBuffer   int           // bytes; 0: DefaultReadBuffer
	Batch        uint32        // 0: DefaultBatch
	FlushTimeout time.Duration // 0: DefaultFlushTimeout
	Now          func() time.Time
	Log          *slog.Logger
}

// Reader is a Source bound to one NFLOG group over netlink (go-nflog). It
// asks for sequence numbers, so Counters().Lost counts every message the
// kernel dropped because the socket's queue was full, and counts ENOBUFS
// reports as Overruns.
type Reader struct {
	nf     *nflog.Nflog
	msgs   chan Message
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
	now    func() time.Time

	seq                      SeqTracker   // only touched by the receive goroutine
	ifnames                  *ifnameCache // likewise
	received, lost, overruns atomic.Uint64
	err                      atomic.Pointer[error]
}

// OpenReader binds cfg.Group in cfg.NetNS and starts receiving. Binding needs
// CAP_NET_ADMIN; a group another socket holds fails with ErrGroupBusy.
func OpenReader(cfg ReaderConfig) (*Reader, error) {
	cfg = cfg.withDefaults()
	nfc := &nflog.Config{
		Group:    cfg.Group,
		Copymode: nflog.CopyPacket,
		Bufsize:  cfg.CopyRange,
		Flags:    nflog.FlagSeq,
		QThresh:  cfg.Batch,
		Timeout:  uint32(cfg.FlushTimeout / (10 * time.Millisecond)),
		Logger:   nflogLogger{cfg.Log},
	}
	if cfg.NetNS != "" {
		ns, err := netns.Open(cfg.NetNS)
		if err != nil {
			return nil, fmt.Errorf("denylog: %w", err)
		}
		defer ns.Close() // the socket stays in the namespace
		nfc.NetNS = ns.Fd()
	}
	nf, err := nflog.Open(nfc)
	if err != nil {
		return nil, fmt.Errorf("denylog: open NFLOG socket: %w", err)
	}
	if err := setReadBuffer(nf.Con, cfg.ReadBuffer); err != nil {
		cfg.Log.Warn("denylog: cannot enlarge the NFLOG receive buffer; bursts may be lost (and counted)", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reader{nf: nf, msgs: make(chan Message, cfg.QueueLen), done: make(chan struct{}), cancel: cancel, now: cfg.Now,
		ifnames: newIfnameCache(cfg.NetNS)}
	if err := registerKeepingLogger(cfg, func() error { return nf.RegisterWithErrorFunc(ctx, r.hook, r.onError(ctx)) }); err != nil {
		cancel()
		nf.Close()
		return nil, bindError(cfg, err)
	}
	return r, nil
}

// registerKeepingLogger runs register (go-nflog's bind) and then, whether
// it succeeded or not, puts back the namespace's NFPROTO_UNSPEC logger,
// which the bind replaces as a side effect before it binds the group
// (logbinding_linux.go). Failing to read or restore it is logged, not
// fatal: it affects no leash rule, only that sysctl.
func registerKeepingLogger(cfg ReaderConfig, register func() error) error {
	saved, err := saveLoggerBinding(cfg.NetNS)
	if err != nil {
		cfg.Log.Warn("denylog: binding the log group may leave net.netfilter.nf_log.0 changed", "err", err)
	}
	rerr := register()
	if saved != nil {
		if err := saved.restore(); err != nil {
			cfg.Log.Warn("denylog: net.netfilter.nf_log.0 is left changed by binding the log group", "err", err)
		}
	}
	return rerr
}

func (cfg ReaderConfig) withDefaults() ReaderConfig {
	if cfg.CopyRange == 0 {
		cfg.CopyRange = DefaultCopyRange
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// setReadBuffer sets the receive buffer with SO_RCVBUFFORCE (root may exceed
// net.core.rmem_max), falling back to SO_RCVBUF.
func setReadBuffer(c *netlink.Conn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	if serr == nil {
		return nil
	}
	return c.SetReadBuffer(n)
}

// bindError explains a failed bind: the kernel says EPERM both when another
// socket owns the group and when the caller lacks CAP_NET_ADMIN, so the
// namespace's list of bound groups decides which.
func bindError(cfg ReaderConfig, err error) error {
	where := "this network namespace"
	if cfg.NetNS != "" {
		where = "network namespace " + cfg.NetNS
	}
	if bound, _ := groupBound(cfg.NetNS, cfg.Group); bound {
		return fmt.Errorf("denylog: bind NFLOG group %d in %s: %w (a leash collector, or another tool; only one socket can read a group)", cfg.Group, where, ErrGroupBusy)
	}
	return fmt.Errorf("denylog: bind NFLOG group %d in %s: %w (binding needs root, CAP_NET_ADMIN)", cfg.Group, where, err)
}

// hook receives one message on go-nflog's receive goroutine.
func (r *Reader) hook(a nflog.Attribute) int {
	if a.Seq != nil {
		if n := r.seq.Observe(*a.Seq); n > 0 {
			r.lost.Add(n)
		}
	}
	m := Message{Time: r.now(), UID: a.UID, GID: a.GID}
	if a.InDev != nil {
		m.InIf = r.ifnames.name(*a.InDev)
	}
	if a.HwAddr != nil && len(*a.HwAddr) >= 6 {
		m.MAC = net.HardwareAddr((*a.HwAddr)[:6]).String()
	}
	if a.Prefix != nil {
		m.Prefix = *a.Prefix
	}
	if a.Payload != nil {
		m.Payload = *a.Payload
	}
	select {
	case r.msgs <- m:
		r.received.Add(1)
		return 0
	case <-r.done:
		return 1
	}
}

// onError keeps receiving through ENOBUFS (counted) and stops on anything
// else, recording why unless the reader is being closed.
func (r *Reader) onError(ctx context.Context) nflog.ErrorFunc {
	return func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		if errors.Is(err, unix.ENOBUFS) {
			r.overruns.Add(1)
			return 0
		}
		err = fmt.Errorf("denylog: receive NFLOG messages: %w", err)
		r.err.CompareAndSwap(nil, &err)
		r.stop()
		return 1
	}
}

// Messages delivers the group's messages; it is never closed: watch Done.
func (r *Reader) Messages() <-chan Message { return r.msgs }

// Done is closed when the reader stops.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Counters returns the running totals.
func (r *Reader) Counters() Counters {
	return Counters{Received: r.received.Load(), Lost: r.lost.Load(), Overruns: r.overruns.Load()}
}

// Err is why the reader stopped on its own, nil otherwise.
func (r *Reader) Err() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops receiving, unbinds the group and closes the socket.
func (r *Reader) Close() error {
	r.stop()
	r.cancel()
	return r.nf.Close()
}

func (r *Reader) stop() { r.once.Do(func() { close(r.done) }) }

// nflogLogger sends go-nflog's own diagnostics to the debug log.
type nflogLogger struct{ log *slog.Logger }

func (l nflogLogger) Debugf(format string, args ...any) {
	l.log.Debug("nflog: " + fmt.Sprintf(format, args...))
}
func (l nflogLogger) Errorf(format string, args ...any) {
	l.log.Debug("nflog: " + fmt.Sprintf(format, args...))
}
