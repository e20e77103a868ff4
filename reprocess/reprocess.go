// Package reprocess migrates an existing archive into a pseudonymised
// store: it streams the source listing, hands each object to a Runner
// (workers in this process, or a queue), and records finished objects in
// a Checkpoint so that a killed run resumes without redoing them.
package reprocess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/store"
)

// Config is one reprocessing run.
type Config struct {
	Source store.Store
	Runner Runner
	// Checkpoint records progress; nil runs without resume.
	Checkpoint *Checkpoint
	// Window bounds the objects listed but not yet behind the watermark
	// (default 4096): the memory a run holds whatever the archive's size.
	Window int
	// RetryFailed lists the whole source again and runs the objects
	// recorded as failed (as well as any not finished).
	RetryFailed bool
	// Count lists the source a second time, alongside the work, to learn
	// the total for progress and ETA.
	Count bool
	// OnResult sees every finished object (one goroutine at a time).
	OnResult func(Result)
	// CompactEvery is how often the checkpoint is rewritten (default 2s).
	CompactEvery time.Duration
}

// Stats are the run's counters so far.
type Stats struct {
	Total       int64 // objects in the source; -1 until counted
	Listed      int64
	Skipped     int64 // finished in an earlier run (with Count, including those behind the watermark)
	Ignored     int64 // not JPEG names
	Redacted    int64
	Quarantined int64
	Failed      int64
	Bytes       int64 // source bytes read
	Elapsed     time.Duration
}

// Finished is the number of objects accounted for.
func (s Stats) Finished() int64 {
	return s.Skipped + s.Ignored + s.Redacted + s.Quarantined + s.Failed
}

// Reprocessor runs one Config; Stats may be read while Run runs.
type Reprocessor struct {
	cfg   Config
	start time.Time
	total atomic.Int64
	// behind counts the objects behind the checkpoint's watermark, which
	// the listing skips without seeing (known once counted).
	behind atomic.Int64
	n      struct {
		listed, skipped, ignored, redacted, quarantined, failed, bytes atomic.Int64
	}

	mu     sync.Mutex // guards win and the checkpoint
	win    *window
	wake   chan struct{}
	closed bool
}

// New prepares a run.
func New(cfg Config) *Reprocessor {
	if cfg.Window <= 0 {
		cfg.Window = 4096
	}
	if cfg.CompactEvery <= 0 {
		cfg.CompactEvery = 2 * time.Second
	}
	r := &Reprocessor{cfg: cfg, win: newWindow(), wake: make(chan struct{}, 1)}
	r.total.Store(-1)
	return r
}

// Stats returns the counters so far.
func (r *Reprocessor) Stats() Stats {
	s := Stats{
		Total: r.total.Load(), Listed: r.n.listed.Load(), Skipped: r.n.skipped.Load() + r.behind.Load(), Ignored: r.n.ignored.Load(),
		Redacted: r.n.redacted.Load(), Quarantined: r.n.quarantined.Load(), Failed: r.n.failed.Load(), Bytes: r.n.bytes.Load(),
	}
	if !r.start.IsZero() {
		s.Elapsed = time.Since(r.start)
	}
	return s
}

// ErrUnordered stops a run whose source does not list in lexical order,
// which the checkpoint relies on.
var ErrUnordered = errors.New("the source does not list keys in lexical order")

// Run reprocesses until the listing is exhausted, ctx is cancelled or a
// store fails for good. Objects whose processing failed are counted, not
// returned as errors. A run that exhausts the listing completes the
// checkpoint's pass, so the next run is an incremental one.
func (r *Reprocessor) Run(ctx context.Context) error {
	r.start = time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ck := r.cfg.Checkpoint
	if ck != nil {
		if err := ck.Begin(r.start); err != nil {
			return err
		}
	}

	counted := make(chan struct{})
	if r.cfg.Count {
		behind := ""
		if ck != nil && !r.cfg.RetryFailed {
			behind = ck.Watermark()
		}
		go func() {
			defer close(counted)
			var n, done int64
			err := r.cfg.Source.List(ctx, "", func(o store.Object) error {
				n++
				if o.Key <= behind {
					done++
				}
				return nil
			})
			if err == nil {
				r.behind.Store(done)
				r.total.Store(n)
			}
		}()
	} else {
		close(counted)
	}

	tasks := make(chan Task)
	var listErr error
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		defer close(tasks)
		listErr = r.feed(ctx, tasks)
		if listErr != nil {
			cancel(listErr)
		}
	}()

	results := make(chan Result, 64)
	var runErr error
	go func() {
		defer close(results)
		runErr = r.cfg.Runner.Run(ctx, tasks, func(res Result) { results <- res })
		if runErr != nil {
			cancel(runErr)
		}
	}()

	var firstErr error
	var ckErr error
	last := time.Now()
	for res := range results {
		if res.Status == "" {
			if res.Err != nil && !errors.Is(res.Err, context.Canceled) && firstErr == nil {
				firstErr = res.Err
				cancel(res.Err)
			}
			continue
		}
		r.count(res)
		if r.cfg.OnResult != nil {
			r.cfg.OnResult(res)
		}
		r.mu.Lock()
		if ck != nil && ckErr == nil {
			ckErr = ck.Finish(res.Key, res.Modified, res.Status == Failed)
		}
		r.win.finish(res.Key)
		if ck != nil && ckErr == nil && time.Since(last) >= r.cfg.CompactEvery {
			ckErr = ck.Compact(r.win.watermark, r.win.doneKeys())
			last = time.Now()
		}
		r.mu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
		if ckErr != nil {
			cancel(ckErr)
		}
	}
	<-listed
	<-counted
	if ck != nil && ckErr == nil {
		r.mu.Lock()
		ckErr = ck.Compact(r.win.watermark, r.win.doneKeys())
		r.mu.Unlock()
	}
	for _, err := range []error{ckErr, runErr, firstErr, listErr} {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if ck != nil {
		return ck.Complete()
	}
	return nil
}

func (r *Reprocessor) count(res Result) {
	r.n.bytes.Add(res.Bytes)
	switch res.Status {
	case Redacted:
		r.n.redacted.Add(1)
	case Quarantined:
		r.n.quarantined.Add(1)
	case Failed:
		r.n.failed.Add(1)
	}
}

// feed lists the source and sends the objects still to do.
func (r *Reprocessor) feed(ctx context.Context, tasks chan<- Task) error {
	ck := r.cfg.Checkpoint
	after := ""
	if ck != nil && !r.cfg.RetryFailed {
		after = ck.Watermark()
	}
	r.mu.Lock()
	r.win.watermark = after
	r.mu.Unlock()
	prev := after
	return r.cfg.Source.List(ctx, after, func(o store.Object) error {
		if o.Key <= prev {
			return ErrUnordered
		}
		prev = o.Key
		r.n.listed.Add(1)
		todo := ingest.IsJPEGName(o.Key)
		r.mu.Lock()
		if todo && ck != nil && ck.Done(o.Key, o.ModTime) && !(r.cfg.RetryFailed && ck.Failed(o.Key)) {
			todo = false
			r.n.skipped.Add(1)
		} else if !todo {
			r.n.ignored.Add(1)
		}
		r.mu.Unlock()
		// Wait for room in the window: a stuck object must not let the
		// listing run ahead without bound.
		for {
			r.mu.Lock()
			full := r.win.len() >= r.cfg.Window
			if !full {
				r.win.push(o.Key, !todo)
			}
			r.mu.Unlock()
			if !full {
				break
			}
			select {
			case <-r.wake:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if !todo {
			return nil
		}
		select {
		case tasks <- Task{Key: o.Key, Size: o.Size, Modified: o.ModTime}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func marshalRecord(rec redact.Record) ([]byte, error) {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return append(b, '\n'), nil
}
