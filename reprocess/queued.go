package reprocess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
	"github.com/platemask/platemask/store"
)

// Queued hands tasks to workers elsewhere (platemask worker, serve): it
// publishes each source object as a sealed job whose output and outcome
// come back in a results bucket of its own, then copies the output into
// the sink. Workers need the same keys. Quarantined images stay in the
// queue's quarantine for review (platemask queue review), failures in its
// dead letters.
type Queued struct {
	Queue *queue.Queue
	// Results is the results bucket (queue.ResultsBucket): give a resumed
	// run the same one, so that it collects what workers finished after
	// the last run stopped.
	Results string
	// InFlight bounds the jobs published and not yet settled (default 64).
	InFlight int
	// Wait is how long one job may take to settle before the run stops
	// with an error (default 10 minutes): no workers, or a stuck queue.
	Wait         time.Duration
	Parser       *ingest.Parser
	MaxBytes     int64
	Source, Sink store.Store
	DeleteSource bool
	Retries      int
}

// Run implements Runner.
func (r *Queued) Run(ctx context.Context, tasks <-chan Task, done func(Result)) error {
	st, err := r.Queue.ResultsStore(ctx, r.Results, true)
	if err != nil {
		return fmt.Errorf("results bucket: %w", err)
	}
	out, err := watchOutcomes(ctx, st)
	if err != nil {
		return err
	}
	defer out.stop()
	var wg sync.WaitGroup
	var unfinished atomic.Int64
	for range max(1, r.InFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				res := r.one(ctx, st, out, t)
				if res.Err != nil {
					unfinished.Add(1)
				}
				done(res)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil || unfinished.Load() > 0 {
		return nil // kept for the run that resumes
	}
	// Every task taken settled and was collected. What is left are second
	// outcomes of jobs a worker ran twice (it died before acking) after
	// the first was collected: clear them, then drop the bucket (kept if
	// anything remains).
	if err := r.sweep(ctx, st); err != nil {
		return err
	}
	return r.Queue.DropResults(ctx, r.Results)
}

// sweep removes outcomes (and their outputs) of jobs already collected.
func (r *Queued) sweep(ctx context.Context, st jetstream.ObjectStore) error {
	left, err := st.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: results: %w", errStore, err)
	}
	for _, info := range left {
		if !strings.HasPrefix(info.Name, queue.OutcomePrefix) {
			continue
		}
		b, err := st.GetBytes(ctx, info.Name)
		if err != nil {
			continue
		}
		var o queue.Outcome
		if json.Unmarshal(b, &o) != nil {
			continue
		}
		names := []string{info.Name}
		if o.Result == queue.EventStored {
			if _, err := r.Sink.Stat(ctx, sink.RecordName(o.Image)); err != nil {
				continue // not collected: keep it for whoever can
			}
			names = append(names, o.Image, sink.RecordName(o.Image))
		}
		for _, n := range names {
			if err := st.Delete(ctx, n); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return fmt.Errorf("%w: results: %w", errStore, err)
			}
		}
	}
	return nil
}

func (r *Queued) one(ctx context.Context, st jetstream.ObjectStore, out *outcomes, t Task) Result {
	res := Result{Task: t}
	// An unfinished task has no status, whatever it had reached: it is not
	// recorded, and runs again on resume.
	unfinished := func(err error) Result {
		return Result{Task: t, Bytes: res.Bytes, Err: err}
	}
	var data []byte
	err := retryStore(ctx, r.Retries, func() (err error) {
		data, err = r.Source.Get(ctx, t.Key, r.MaxBytes)
		return err
	})
	switch {
	case errors.Is(err, store.ErrTooLarge):
		res.Status, res.Reason = Failed, codec.ErrTooLarge.Error()
		return res
	case errors.Is(err, store.ErrNotFound):
		res.Status, res.Reason = Failed, "vanished from the source while running"
		return res
	case err != nil:
		return unfinished(fmt.Errorf("%w: source: %w", errStore, err))
	}
	res.Bytes = int64(len(data))

	name := r.Parser.Parse(t.Key)
	img := queue.Image{Data: data, Source: path.Base(t.Key), Camera: name.Camera, Time: name.Time, Results: r.Results}
	id := queue.JobID(r.Queue.Ring().Current().HMAC, img.Camera, img.Source, img.Data)
	// Expect the outcome before publishing: a fast worker may report
	// before Submit returns.
	ch, settled := out.expect(id)
	defer out.forget(id, ch)
	earlier := false
	if !settled {
		rc, err := r.Queue.Submit(ctx, img)
		if err != nil {
			return unfinished(fmt.Errorf("%w: queue: %w", errStore, err))
		}
		if rc.Duplicate {
			if res, earlier, err = r.settledBefore(ctx, img, res); err != nil {
				return unfinished(err)
			}
			if earlier && res.Status != Redacted {
				// A worker holds a job before it reports the outcome: let
				// one that is on its way arrive, so that it is removed
				// below rather than left in the bucket.
				select {
				case <-ch:
				case <-time.After(outcomeGrace):
				case <-ctx.Done():
					return unfinished(ctx.Err())
				}
			}
		}
	}
	if !earlier {
		wait := r.Wait
		if wait <= 0 {
			wait = 10 * time.Minute
		}
		var o queue.Outcome
		select {
		case o = <-ch:
		case <-ctx.Done():
			return unfinished(ctx.Err())
		case <-time.After(wait):
			return unfinished(fmt.Errorf("a job did not settle within %s: are workers running against this queue?", wait))
		}
		switch o.Result {
		case queue.EventStored:
			if err := r.collect(ctx, st, o); err != nil {
				return unfinished(err)
			}
			res.Status, res.Output, res.Regions = Redacted, o.Image, o.Regions
		case queue.EventQuarantined:
			res.Status, res.Output, res.Reason = Quarantined, "queue quarantine", o.Reason
		default:
			res.Status, res.Reason = Failed, o.Reason
		}
	}
	if res.Status != Failed && r.DeleteSource {
		if err := deleteSource(ctx, r.Source, r.Retries, t.Key); err != nil {
			return unfinished(err)
		}
	}
	// The outcome goes last: a run stopped before this finds it again.
	if err := st.Delete(ctx, queue.OutcomeName(id)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return unfinished(fmt.Errorf("%w: results: %w", errStore, err))
	}
	return res
}

// outcomeGrace is how long a job found held in quarantine or dead letters
// is given for its outcome to arrive: the worker reports right after.
const outcomeGrace = 2 * time.Second

// settledBefore handles a job the broker already had (it drops a second
// publish of a job id within its duplicate window, so no new outcome will
// come): an earlier run published it and may have collected its outcome
// without recording the task, stopped in between. Its output in the sink,
// or the job in the queue's quarantine or dead letters, settles the task;
// a job still in the queue (ok false) is waited for as usual.
func (r *Queued) settledBefore(ctx context.Context, img queue.Image, res Result) (Result, bool, error) {
	name := redact.OutputName(r.Queue.Ring().Current().HMAC, img.Camera, img.Source, img.Data)
	if b, err := r.Sink.Get(ctx, sink.RecordName(name), 1<<20); err == nil {
		var rec redact.Record
		if json.Unmarshal(b, &rec) == nil && rec.Image == name {
			res.Status, res.Output, res.Regions = Redacted, name, rec.Regions
			return res, true, nil
		}
	}
	id := queue.JobID(r.Queue.Ring().Current().HMAC, img.Camera, img.Source, img.Data)
	j, err := r.Queue.Find(ctx, id)
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		return res, false, nil // its outcome may yet come through the bucket
	case err != nil:
		return res, false, fmt.Errorf("%w: queue: %w", errStore, err)
	case j.State == queue.StateQuarantined:
		res.Status, res.Output, res.Reason = Quarantined, "queue quarantine", j.Reason
	case j.State == queue.StateDead:
		res.Status, res.Reason = Failed, j.Reason
	default:
		return res, false, nil // still in the queue
	}
	return res, true, nil
}

// collect copies a stored job's image and record from the results bucket
// into the sink, verified, then removes them from the bucket.
func (r *Queued) collect(ctx context.Context, st jetstream.ObjectStore, o queue.Outcome) error {
	for _, obj := range []struct{ name, contentType string }{
		{o.Image, "image/jpeg"}, {sink.RecordName(o.Image), "application/json"},
	} {
		b, err := st.GetBytes(ctx, obj.name)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			// Collected already (the same image twice in the source, or a
			// run stopped after copying): the sink must hold it.
			if _, serr := r.Sink.Stat(ctx, obj.name); serr == nil {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("%w: results: %w", errStore, err)
		}
		if err := putVerified(ctx, r.Sink, r.Retries, obj.name, b, obj.contentType); err != nil {
			return err
		}
	}
	for _, name := range []string{o.Image, sink.RecordName(o.Image)} {
		if err := st.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("%w: results: %w", errStore, err)
		}
	}
	return nil
}

// outcomes watches a results bucket and hands each outcome to the tasks
// waiting for its job.
type outcomes struct {
	st      jetstream.ObjectStore
	w       jetstream.ObjectWatcher
	mu      sync.Mutex
	waiting map[string][]chan queue.Outcome
	// early holds outcomes nobody waited for yet: jobs a stopped run
	// published, until this run publishes them again.
	early map[string]queue.Outcome
}

func watchOutcomes(ctx context.Context, st jetstream.ObjectStore) (*outcomes, error) {
	w, err := st.Watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch results: %w", err)
	}
	o := &outcomes{st: st, w: w, waiting: map[string][]chan queue.Outcome{}, early: map[string]queue.Outcome{}}
	// Take in what earlier runs left before publishing anything, so that
	// no job that settled meanwhile is published again.
	replayed := make(chan struct{})
	go o.loop(ctx, replayed)
	select {
	case <-replayed:
		return o, nil
	case <-ctx.Done():
		w.Stop()
		return nil, ctx.Err()
	}
}

func (o *outcomes) loop(ctx context.Context, replayed chan struct{}) {
	defer func() {
		if replayed != nil {
			close(replayed)
		}
	}()
	for info := range o.w.Updates() {
		if info == nil { // the end of what was there already
			if replayed != nil {
				close(replayed)
				replayed = nil
			}
			continue
		}
		if info.Deleted || !strings.HasPrefix(info.Name, queue.OutcomePrefix) {
			continue
		}
		b, err := o.st.GetBytes(ctx, info.Name)
		if err != nil {
			continue // deleted meanwhile: collected by a task already
		}
		var out queue.Outcome
		if json.Unmarshal(b, &out) != nil || out.ID == "" {
			continue
		}
		o.mu.Lock()
		if chs := o.waiting[out.ID]; len(chs) > 0 {
			for _, ch := range chs {
				ch <- out
			}
			delete(o.waiting, out.ID)
		} else {
			o.early[out.ID] = out
		}
		o.mu.Unlock()
	}
}

// expect returns the channel job id's outcome will arrive on, and whether
// it is there already (the job settled after an earlier run stopped).
func (o *outcomes) expect(id string) (ch chan queue.Outcome, settled bool) {
	ch = make(chan queue.Outcome, 1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if out, ok := o.early[id]; ok {
		delete(o.early, id)
		ch <- out
		return ch, true
	}
	o.waiting[id] = append(o.waiting[id], ch)
	return ch, false
}

// forget stops waiting on ch.
func (o *outcomes) forget(id string, ch chan queue.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	chs := o.waiting[id]
	for i, c := range chs {
		if c == ch {
			o.waiting[id] = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(o.waiting[id]) == 0 {
		delete(o.waiting, id)
	}
}

func (o *outcomes) stop() { o.w.Stop() }
