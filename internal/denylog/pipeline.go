package denylog

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultTick is how often the pipeline closes finished attempts and
// reports losses.
const DefaultTick = 500 * time.Millisecond

// Pipeline turns a Source's messages into Records: it decodes each message,
// enriches the first packet of each attempt (Enricher) and emits it at
// once (PhaseFirst), folds retransmissions into the attempt (Coalescer) and,
// when it is over and more packets came, emits the count (PhaseMore); lost
// messages are Loss records in the same stream.
type Pipeline struct {
	Enricher  *Enricher
	Coalescer *Coalescer
	Now       func() time.Time
	Tick      time.Duration // 0 means DefaultTick
	Log       *slog.Logger

	last    Counters // Lost and Overruns already reported
	foreign uint64   // messages with a prefix that is not leash's
}

// NewPipeline returns a pipeline with the default coalescer and tick.
func NewPipeline(en *Enricher, now func() time.Time, log *slog.Logger) *Pipeline {
	return &Pipeline{Enricher: en, Coalescer: NewCoalescer(), Now: now, Log: log}
}

// Run reads src until ctx is done or src stops, handing records to emit in
// the order they complete; tick, when not nil, is called after every tick
// (the collector syncs its history there). On the way out it emits every
// open attempt and any loss not yet reported. It returns src's error, or
// emit's first error; nil when ctx ended it.
func (p *Pipeline) Run(ctx context.Context, src Source, emit func(Record) error, tick func() error) error {
	every := p.Tick
	if every <= 0 {
		every = DefaultTick
	}
	t := time.NewTicker(every)
	defer t.Stop()
	msgs := src.Messages()
	for {
		select {
		case <-ctx.Done():
			if err := p.drain(ctx, msgs, emit); err != nil {
				return err
			}
			return p.finish(src, emit, nil)
		case <-t.C:
			if err := p.tick(src, emit); err != nil {
				return err
			}
			if tick != nil {
				if err := tick(); err != nil {
					return err
				}
			}
		case <-src.Done():
			if err := p.drain(ctx, msgs, emit); err != nil {
				return err
			}
			return p.finish(src, emit, src.Err())
		case m := <-msgs:
			loaded := len(msgs) > cap(msgs)/2
			if err := emitEvents(emit, p.handle(ctx, m, loaded)); err != nil {
				return err
			}
		}
	}
}

// drain handles the messages already queued when the run ends.
func (p *Pipeline) drain(ctx context.Context, msgs <-chan Message, emit func(Record) error) error {
	for {
		select {
		case m := <-msgs:
			if err := emitEvents(emit, p.handle(ctx, m, true)); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// handle decodes one message and folds it into its attempt; it returns the
// attempts that opening a new one closed.
func (p *Pipeline) handle(ctx context.Context, m Message, loaded bool) []*Event {
	rule, verdict, err := ParsePrefix(m.Prefix)
	if err != nil {
		if p.foreign == 0 {
			p.Log.Warn("denylog: ignoring a message that is not leash's (another tool logs to this group?)", "err", err)
		}
		p.foreign++
		return nil
	}
	e := &Event{Time: m.Time, UID: m.UID, GID: m.GID, RuleID: rule, Verdict: verdict, InIf: m.InIf, MAC: m.MAC}
	pkt, err := DecodePacket(m.Payload)
	if err != nil {
		addNote(e, err.Error())
	} else {
		e.Family, e.Proto, e.Src, e.Dst, e.ICMP = pkt.Family, ProtoName(pkt.Proto), pkt.Src, pkt.Dst, pkt.ICMP
		if pkt.Note != "" {
			addNote(e, pkt.Note)
		}
	}
	if p.Coalescer.Fold(e) {
		return nil
	}
	p.Enricher.Enrich(ctx, e, pkt.Proto, loaded)
	closed := p.Coalescer.Open(e)
	first := *e // the coalescer keeps counting on e
	first.Phase, first.Last = PhaseFirst, time.Time{}
	return append(more(closed), &first)
}

// more keeps the closed attempts that had more than their first packet,
// as their PhaseMore records: the first one was emitted when they opened.
func more(closed []*Event) []*Event {
	out := closed[:0]
	for _, e := range closed {
		if e.Attempts > 1 {
			e.Phase = PhaseMore
			out = append(out, e)
		}
	}
	return out
}

// tick emits the attempts that are over and the losses counted since the
// last report.
func (p *Pipeline) tick(src Source, emit func(Record) error) error {
	if err := emitEvents(emit, more(p.Coalescer.Expire(p.Now()))); err != nil {
		return err
	}
	if l := p.loss(src.Counters(), false); l != nil {
		return emit(Record{Loss: l})
	}
	return nil
}

// loss returns a Loss for what c counts beyond what was reported, or nil.
// An overrun whose gap is not measured yet waits for the next message,
// unless final.
func (p *Pipeline) loss(c Counters, final bool) *Loss {
	lost, over := c.Lost-p.last.Lost, c.Overruns-p.last.Overruns
	switch {
	case lost > 0:
		p.last = c
		return &Loss{Type: TypeLost, Time: p.Now(), Lost: lost, Overruns: over, Reason: ReasonOverflow}
	case over > 0 && final:
		p.last = c
		return &Loss{Type: TypeLost, Time: p.Now(), Overruns: over, Reason: ReasonUnknown}
	}
	return nil
}

// finish emits every open attempt and the last loss report, and returns
// cause or the first emit error.
func (p *Pipeline) finish(src Source, emit func(Record) error, cause error) error {
	err := emitEvents(emit, more(p.Coalescer.Flush()))
	if l := p.loss(src.Counters(), true); l != nil {
		err = errors.Join(err, emit(Record{Loss: l}))
	}
	if p.foreign > 0 {
		p.Log.Warn("denylog: messages with a prefix that is not leash's were ignored", "count", p.foreign)
	}
	return errors.Join(cause, err)
}

func emitEvents(emit func(Record) error, es []*Event) error {
	for _, e := range es {
		e.Type = TypeDeny
		if err := emit(Record{Event: e}); err != nil {
			return err
		}
	}
	return nil
}
