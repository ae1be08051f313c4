package denylog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Opener binds the NFLOG group and returns its Source (OpenReader, or a
// fake in tests).
type Opener func() (Source, error)

// CollectConfig says where a collector keeps its history and what it reads.
type CollectConfig struct {
	Dir    string
	Limits HistoryLimits
	Group  uint16
	NetNS  string
	Now    func() time.Time
	Log    *slog.Logger
	// Started, if set, is called once the history and the group are held.
	Started func()
	// Observe, if set, sees every record written (the daemon's metrics).
	Observe func(Record)
}

// Collect runs the collector until ctx is done: it takes dir's collector
// lock (one collector per directory), binds the group (one reader per group
// and namespace), and appends the pipeline's records to the history. Lost
// messages are also logged as warnings.
func Collect(ctx context.Context, cfg CollectConfig, open Opener, p *Pipeline) (err error) {
	lock, err := LockCollector(cfg.Dir, CollectorInfo{PID: os.Getpid(), Group: cfg.Group, NetNS: cfg.NetNS, Started: cfg.Now().UTC()})
	if err != nil {
		return err
	}
	defer lock.Close()
	h, err := OpenHistory(cfg.Dir, cfg.Limits)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.Close()) }()
	src, err := open()
	if err != nil {
		return err
	}
	defer src.Close()
	cfg.Log.Info("denylog: collecting", "group", cfg.Group, "netns", cfg.NetNS, "dir", cfg.Dir)
	if cfg.Started != nil {
		cfg.Started()
	}
	emit := func(r Record) error {
		if cfg.Observe != nil {
			cfg.Observe(r)
		}
		if r.Loss != nil {
			cfg.Log.Warn("denylog: "+r.Loss.String(), "lost", r.Loss.Lost, "overruns", r.Loss.Overruns)
		}
		return h.Write(r)
	}
	if err := p.Run(ctx, src, emit, h.Sync); err != nil {
		return fmt.Errorf("denylog: collector: %w", err)
	}
	cfg.Log.Info("denylog: collector stopped", "counters", fmt.Sprintf("%+v", src.Counters()))
	return nil
}

// WatchConfig says what `leash log -f` follows.
type WatchConfig struct {
	Dir   string
	Group uint16
	NetNS string
	Since time.Time // zero: only new records
	Poll  time.Duration
	Log   *slog.Logger
}

// Watch follows denials until ctx is done. When a collector for the same
// group and namespace holds cfg.Dir, it tails that collector's history;
// otherwise it binds the group itself (after printing the history since
// cfg.Since, if any) and runs the pipeline live. The mode is logged at Info.
func Watch(ctx context.Context, cfg WatchConfig, open Opener, p *Pipeline, fn func(Record) error) error {
	info, running, err := RunningCollector(cfg.Dir)
	if err != nil {
		return err
	}
	if running && info.Group == cfg.Group && info.NetNS == cfg.NetNS {
		cfg.Log.Info("following the collector's history", "pid", info.PID, "dir", cfg.Dir)
		return Follow(ctx, cfg.Dir, cfg.Since, cfg.Poll, fn)
	}
	src, err := open()
	if errors.Is(err, ErrGroupBusy) {
		return fmt.Errorf("%w; no leash collector holds %s for this group and namespace, so another process reads the group: stop it, or run `leash log collect` with this --log-dir", err, cfg.Dir)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	if !cfg.Since.IsZero() {
		if _, err := ReadHistory(cfg.Dir, cfg.Since, fn); err != nil {
			return err
		}
	}
	cfg.Log.Info("no collector running: reading the NFLOG group live", "group", cfg.Group, "netns", cfg.NetNS)
	return p.Run(ctx, src, fn, nil)
}
