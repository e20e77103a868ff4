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
	// Every task taken settled and was collected: the bucket is empty
	// unless another run shares it, and DropResults keeps it then.
	return r.Queue.DropResults(ctx, r.Results)
}

func (r *Queued) one(ctx context.Context, st jetstream.ObjectStore, out *outcomes, t Task) Result {
	res := Result{Task: t}
	unfinished := func(err error) Result {
		res.Err = err
		return res
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
	if !settled {
		if _, err := r.Queue.Submit(ctx, img); err != nil {
			return unfinished(fmt.Errorf("%w: queue: %w", errStore, err))
		}
	}
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
	if res.Status != Failed && r.DeleteSource {
		if err := deleteSource(ctx, r.Source, r.Retries, t.Key); err != nil {
			return unfinished(err)
		}
	}
	// The outcome goes last: a run stopped before this finds it again.
	if err := st.Delete(ctx, queue.OutcomeName(o.ID)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return unfinished(fmt.Errorf("%w: results: %w", errStore, err))
	}
	return res
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
