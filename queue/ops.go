package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/keys"
)

// Names of the operator's side of the queue: the pause switch, worker
// heartbeats, the last failure of jobs being retried, and a short window
// of settle events for rates. None holds anything about an image beyond
// its opaque job id and public reasons.
const (
	BucketControl  = "platemask_control"
	BucketWorkers  = "platemask_workers"
	BucketAttempts = "platemask_attempts"
	StreamEvents   = "PLATEMASK_EVENTS"
	// SubjectEvents is followed by the job's result: stored, quarantined,
	// dead or retried.
	SubjectEvents = "platemask.events"
	keyPaused     = "paused"
)

// Event results, as the worker counts them.
const (
	EventStored      = "stored"
	EventQuarantined = "quarantined"
	EventDead        = "dead"
	EventRetried     = "retried"
)

// Timers of the operator's side.
const (
	// WorkerTTL is how long a heartbeat counts a worker as connected.
	WorkerTTL = 15 * time.Second
	// BeatEvery is how often workers write their heartbeat.
	BeatEvery = 5 * time.Second
	// EventsWindow is how long settle events are kept.
	EventsWindow = 6 * time.Minute
)

// setupOps creates (never updates) the buckets and stream of the
// operator's side.
func (q *Queue) setupOps(ctx context.Context) error {
	kvs := []struct {
		dst  *jetstream.KeyValue
		name string
		ttl  time.Duration
		desc string
	}{
		{&q.control, BucketControl, 0, "platemask operator switches (pause)"},
		{&q.workers, BucketWorkers, WorkerTTL, "platemask worker heartbeats"},
		{&q.attempts, BucketAttempts, q.cfg.RawTTL, "last failure of jobs waiting for a retry"},
	}
	for _, k := range kvs {
		kv, err := q.js.KeyValue(ctx, k.name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = q.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: k.name, Description: k.desc, TTL: k.ttl, History: 1,
				Storage: jetstream.FileStorage, Replicas: q.cfg.Replicas,
			})
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", k.name, err)
		}
		*k.dst = kv
	}
	_, err := q.js.Stream(ctx, StreamEvents)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = q.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        StreamEvents,
			Description: "platemask settle events (result only), for rates",
			Subjects:    []string{SubjectEvents + ".>"},
			Storage:     jetstream.MemoryStorage,
			Replicas:    q.cfg.Replicas,
			MaxAge:      EventsWindow,
			MaxMsgs:     4 << 20,
			Discard:     jetstream.DiscardOld,
		})
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamEvents, err)
	}
	return nil
}

// Attach binds to the queue others set up, without changing the jobs
// stream or the workers' consumer (tools must not fight the pipeline over
// its settings); it takes replicas and ack wait from what it finds. ring
// may be nil for tools that only count.
func Attach(ctx context.Context, nc *nats.Conn, ring *keys.Ring) (*Queue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	q := &Queue{nc: nc, js: js, ring: ring, cfg: NewDefaultConfig()}
	s, err := js.Stream(ctx, StreamJobs)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoQueue
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamJobs, err)
	}
	q.cfg.Replicas = max(s.CachedInfo().Config.Replicas, 1)
	if c, err := q.Consumer(ctx); err == nil {
		q.cfg.AckWait = c.CachedInfo().Config.AckWait
	}
	for _, b := range []struct {
		dst  *jetstream.ObjectStore
		name string
	}{{&q.raw, BucketRaw}, {&q.quarantine, BucketQuarantine}, {&q.dead, BucketDead}} {
		st, err := js.ObjectStore(ctx, b.name)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", b.name, err)
		}
		*b.dst = st
	}
	if err := q.setupOps(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// ErrNoQueue: the broker holds no platemask queue.
var ErrNoQueue = errors.New("no platemask queue on this broker (has serve ever run against it?)")

// SetPaused sets or clears the pause switch workers watch.
func (q *Queue) SetPaused(ctx context.Context, paused bool) error {
	var err error
	if paused {
		_, err = q.control.PutString(ctx, keyPaused, "1")
	} else {
		err = q.control.Delete(ctx, keyPaused)
	}
	if err != nil {
		return fmt.Errorf("pause switch: %w", err)
	}
	return nil
}

// Paused reads the pause switch.
func (q *Queue) Paused(ctx context.Context) (bool, error) {
	e, err := q.control.Get(ctx, keyPaused)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pause switch: %w", err)
	}
	return string(e.Value()) == "1", nil
}

// Pause follows the pause switch.
type Pause struct {
	mu      sync.Mutex
	paused  bool
	changed chan struct{}
}

// WatchPause follows the pause switch until ctx ends.
func (q *Queue) WatchPause(ctx context.Context) (*Pause, error) {
	w, err := q.control.Watch(ctx, keyPaused)
	if err != nil {
		return nil, fmt.Errorf("watch pause switch: %w", err)
	}
	p := &Pause{changed: make(chan struct{})}
	// The current value first: a worker started while paused must not
	// fetch before it knows.
	for initial := true; initial; {
		select {
		case <-ctx.Done():
			w.Stop()
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watch pause switch: watcher closed")
			}
			if e == nil {
				initial = false
				break
			}
			p.set(e.Operation() == jetstream.KeyValuePut && string(e.Value()) == "1")
		}
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					p.set(e.Operation() == jetstream.KeyValuePut && string(e.Value()) == "1")
				}
			}
		}
	}()
	return p, nil
}

func (p *Pause) set(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v != p.paused {
		p.paused = v
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// Paused reports the switch (false on a nil Pause).
func (p *Pause) Paused() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// Wait returns once the switch is off or ctx ends.
func (p *Pause) Wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	for {
		p.mu.Lock()
		paused, ch := p.paused, p.changed
		p.mu.Unlock()
		if !paused {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Beat is one worker process's heartbeat.
type Beat struct {
	Slots  int  `json:"slots"`
	Busy   int  `json:"busy"`
	Paused bool `json:"paused"`
}

// Heartbeat records that worker process id is alive.
func (q *Queue) Heartbeat(ctx context.Context, id string, b Beat) error {
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = q.workers.Put(ctx, id, v)
	return err
}

// Gone removes worker process id's heartbeat.
func (q *Queue) Gone(ctx context.Context, id string) error {
	return q.workers.Delete(ctx, id)
}

// Workers returns the live heartbeats by worker process id.
func (q *Queue) Workers(ctx context.Context) (map[string]Beat, error) {
	lister, err := q.workers.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("worker heartbeats: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	out := map[string]Beat{}
	for _, id := range ids {
		e, err := q.workers.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("worker heartbeat: %w", err)
		}
		var b Beat
		if json.Unmarshal(e.Value(), &b) == nil {
			out[id] = b
		}
	}
	return out, nil
}

// Event records a settled job's result for rates. It is fire-and-forget:
// a lost event costs a count, never a job.
func (q *Queue) Event(result string) {
	q.nc.Publish(SubjectEvents+"."+result, nil)
}

// EventCounts counts events per result since t.
func (q *Queue) EventCounts(ctx context.Context, since time.Time, results ...string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, r := range results {
		c, err := q.js.CreateConsumer(ctx, StreamEvents, jetstream.ConsumerConfig{
			FilterSubject:     SubjectEvents + "." + r,
			DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
			OptStartTime:      &since,
			AckPolicy:         jetstream.AckNonePolicy,
			InactiveThreshold: 10 * time.Second,
			MemoryStorage:     true,
		})
		if err != nil {
			return nil, fmt.Errorf("count events: %w", err)
		}
		info := c.CachedInfo()
		out[r] = info.NumPending
		q.js.DeleteConsumer(ctx, StreamEvents, info.Name)
	}
	return out, nil
}

// Attempt is the last failure of a job waiting to be retried.
type Attempt struct {
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason"`
}

// NoteAttempt records that job id failed its nth delivery for reason and
// will be retried.
func (q *Queue) NoteAttempt(ctx context.Context, id string, a Attempt) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = q.attempts.Put(ctx, id, v)
	return err
}

// ClearAttempt forgets job id's failures once it settled.
func (q *Queue) ClearAttempt(ctx context.Context, id string) error {
	err := q.attempts.Purge(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// LastAttempt returns job id's last failure, if it has one.
func (q *Queue) LastAttempt(ctx context.Context, id string) (Attempt, bool, error) {
	var a Attempt
	e, err := q.attempts.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	return a, json.Unmarshal(e.Value(), &a) == nil, nil
}
