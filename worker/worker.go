package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/metrics"
	"github.com/platemask/platemask/outcome"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/sink"
)

// Pool runs workers against a queue and a sink.
type Pool struct {
	q    *queue.Queue
	sink sink.Sink
	cfg  Config
	log  *slog.Logger
	m    *metrics.Metrics
	busy atomic.Int64
}

// New checks cfg and returns a pool.
func New(q *queue.Queue, s sink.Sink, cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = q.Config().AckWait / 3
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Pool{q: q, sink: s, cfg: cfg, log: log, m: cfg.Metrics}, nil
}

// Run processes jobs until ctx ends, then lets the jobs in hand finish
// (and be acknowledged) before it returns: a drain, not an abort.
func (p *Pool) Run(ctx context.Context) error {
	procs := make(chan *redact.Processor, p.cfg.Workers)
	var all []*redact.Processor
	defer func() {
		for _, pr := range all {
			pr.Close()
		}
	}()
	for range p.cfg.Workers {
		pr, err := p.cfg.NewProcessor()
		if err != nil {
			return fmt.Errorf("worker setup: %w", err)
		}
		all = append(all, pr)
		procs <- pr
	}
	// An operator's pause stops fetching, not the jobs in hand; a worker
	// that cannot follow the switch runs on and says so.
	pause, err := p.q.WatchPause(ctx)
	if err != nil {
		p.log.Warn("worker: pause switch unavailable", "err", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); p.heartbeat(ctx, pause) }()
	// Each job in hand holds a slot from its fetch until it is settled,
	// two per processor: while one image is redacted, the next is already
	// fetched (its ack wait kept alive) and the last is being stored and
	// acknowledged, so a processor never waits on the broker or the sink.
	// A slow sink still holds the pull once every slot is taken.
	slots := make(chan struct{}, 2*p.cfg.Workers)
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		if pause.Wait(ctx) != nil {
			return nil
		}
		// Take the free slots, up to one pull per processor.
		n := 0
		select {
		case slots <- struct{}{}:
			n++
		case <-ctx.Done():
			return nil
		}
	more:
		for n < p.cfg.Workers {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		giveBack := func() {
			for ; n > 0; n-- {
				<-slots
			}
		}
		if pause.Paused() {
			giveBack()
			continue
		}
		if cons == nil {
			c, err := p.q.Consumer(ctx)
			if err != nil {
				p.pause(ctx, "consumer unavailable", err)
				giveBack()
				continue
			}
			cons = c
		}
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(p.cfg.FetchWait))
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				cons = nil
			}
			p.pause(ctx, "fetch failed", err)
			giveBack()
			continue
		}
		for msg := range batch.Messages() {
			n--
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				p.handle(ctx, msg, procs)
			}()
		}
		giveBack()
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			p.pause(ctx, "fetch ended", err)
		}
	}
	return nil
}

// heartbeat tells operators this process is alive until ctx ends, then
// takes its entry back.
func (p *Pool) heartbeat(ctx context.Context, pause *queue.Pause) {
	id := "w-" + nonce()
	t := time.NewTicker(queue.BeatEvery)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, queue.BeatEvery)
		b := queue.Beat{Slots: p.cfg.Workers, Busy: int(p.busy.Load()), Paused: pause.Paused()}
		if err := p.q.Heartbeat(bctx, id, b); err != nil && ctx.Err() == nil {
			p.log.Debug("worker: heartbeat failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			gctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			p.q.Gone(gctx, id)
			cancel()
			return
		case <-t.C:
		}
	}
}

func (p *Pool) pause(ctx context.Context, what string, err error) {
	p.log.Warn("worker: "+what, "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
}

// handle runs one job and settles it: it waits for a processor, redacts,
// gives the processor back and only then stores and acknowledges. A job
// that has been fetched runs to the end even when ctx is cancelled (at
// most one job per processor waits for one), so a drain leaves nothing
// half-done.
func (p *Pool) handle(ctx context.Context, msg jetstream.Msg, procs chan *redact.Processor) {
	// The broker hears the job is alive from the moment it is in hand,
	// waiting for a processor included.
	defer p.inProgress(msg)()
	work := context.WithoutCancel(ctx)
	var delivered uint64 = 1
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	m, err := queue.ParseMessage(msg.Data())
	if err != nil {
		// Nothing to hold: the message is not platemask's.
		p.log.Error("worker: dropping malformed job message", "err", err)
		p.count(queue.EventDead, outcome.Of(err).Reason)
		msg.TermWithReason(outcome.Of(err).Reason)
		return
	}
	results := p.resultsOf(m)
	pr := <-procs
	p.busy.Add(1)
	start := time.Now()
	if p.m != nil {
		p.m.InFlight.Inc()
		defer p.m.InFlight.Dec()
		defer func() { p.m.Seconds.Observe(time.Since(start).Seconds()) }()
	}
	var job *redact.Job
	if delivered > uint64(p.cfg.MaxAttempts) {
		err = outcome.ErrExhausted
	} else {
		job, err = p.process(work, msg, m, pr)
	}
	p.busy.Add(-1)
	procs <- pr
	p.settle(work, msg, m, results, delivered, job, err)
}

// resultsOf is the results bucket m's sealed meta names, if any. A meta
// that does not open is left to process, which fails the job for it.
func (p *Pool) resultsOf(m queue.Message) string {
	meta, err := p.q.OpenMeta(queue.JobInfo{ID: m.ID, Meta: m.Meta})
	if err != nil {
		return ""
	}
	return meta.Results
}

// inProgress tells the broker the job is alive until the returned stop is
// called: through redaction and through settling, since a slow sink write
// past the ack wait would otherwise hand the job to a second worker
// (found by TestSlowSinkPastAckWaitStoresEachJobOnce).
func (p *Pool) inProgress(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(p.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

// process opens and redacts the job.
func (p *Pool) process(ctx context.Context, msg jetstream.Msg, m queue.Message, pr *redact.Processor) (job *redact.Job, err error) {
	// A panic in one image must not take the worker down; it counts as a
	// failed attempt.
	defer func() {
		if r := recover(); r != nil {
			job, err = nil, fmt.Errorf("worker panic: %v", r)
		}
	}()
	data, meta, err := p.q.Open(ctx, m)
	if err != nil {
		return nil, err
	}
	job = &redact.Job{Data: data, Source: meta.Source, Camera: meta.Camera, Network: meta.Network,
		Name: ingest.Name{Camera: meta.Camera, Time: meta.Time}, Manual: meta.Manual, Static: meta.Static,
		// An operator looked and confirmed there is no plate: store it
		// rather than quarantine it again.
		KeepNoPlate: meta.Review == queue.ReviewNoPlate}
	if err := pr.Process(ctx, job); err != nil {
		return nil, err
	}
	job.Record.Review = meta.Review
	return job, nil
}

// settle is the one place a job's fate is decided, from outcome's table:
// stored and acked, quarantined, dead-lettered, or retried later. The raw
// object is deleted only after the broker confirmed the ack. A job that
// names a results bucket has its output stored there instead of in the
// sink, and its outcome reported there before it leaves the queue.
func (p *Pool) settle(ctx context.Context, msg jetstream.Msg, m queue.Message, results string, delivered uint64, job *redact.Job, err error) {
	if err == nil {
		err = p.store(ctx, results, job)
		if err == nil {
			err = p.report(ctx, results, queue.Outcome{ID: m.ID, Result: queue.EventStored,
				Image: job.Record.Image, Regions: job.Record.Regions})
		}
		if err == nil {
			if p.m != nil {
				p.m.Destroyed.Observe(job.Record.Destroyed)
			}
			p.ack(ctx, msg, m, delivered, queue.EventStored, "")
			return
		}
	}
	k := outcome.Of(err)
	if k.Action == outcome.Retry && delivered >= uint64(p.cfg.MaxAttempts) {
		k = outcome.Of(outcome.ErrExhausted)
	}
	log := p.log.With("job", m.ID, "attempt", delivered, "reason", k.Reason)
	switch k.Action {
	case outcome.Quarantine:
		if err := p.q.Quarantine(ctx, m, k.Reason); err != nil {
			p.retry(ctx, msg, m, delivered, log, err)
			return
		}
		if err := p.report(ctx, results, queue.Outcome{ID: m.ID, Result: queue.EventQuarantined, Reason: k.Reason}); err != nil {
			p.retry(ctx, msg, m, delivered, log, err)
			return
		}
		p.ack(ctx, msg, m, delivered, queue.EventQuarantined, k.Reason)
	case outcome.Dead:
		if err := p.q.DeadLetter(ctx, m, k.Reason, delivered); err != nil {
			p.retry(ctx, msg, m, delivered, log, err)
			return
		}
		if err := p.report(ctx, results, queue.Outcome{ID: m.ID, Result: queue.EventDead, Reason: k.Reason}); err != nil {
			p.retry(ctx, msg, m, delivered, log, err)
			return
		}
		log.Warn("worker: job dead-lettered")
		if err := msg.TermWithReason(k.Reason); err != nil {
			log.Warn("worker: term failed; the job will come back and be dead-lettered again", "err", err)
			return
		}
		p.count(queue.EventDead, k.Reason)
		p.finish(ctx, m, delivered)
	default:
		if errors.Is(err, context.Canceled) {
			msg.Nak() // shutting down: let another worker have it now
			p.count(queue.EventRetried, k.Reason)
			return
		}
		p.retry(ctx, msg, m, delivered, log, err)
	}
}

// store puts a redacted job into the sink, or into its results bucket.
func (p *Pool) store(ctx context.Context, results string, job *redact.Job) error {
	if results == "" {
		return p.sink.Put(ctx, job.Record, job.Output)
	}
	st, err := p.q.ResultsStore(ctx, results, false)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		// The caller drops its bucket only once it has collected every
		// output: this is a second run of a job already collected (its
		// first worker died before acking).
		p.log.Info("worker: results bucket gone, output of a job run twice dropped", "job", job.Record.Image)
		return nil
	}
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return (&sink.Objects{Store: st}).Put(ctx, job.Record, job.Output)
}

// report puts o into the job's results bucket, when it names one. A
// bucket that is gone or misnamed has nobody waiting on it: that is
// logged, not retried.
func (p *Pool) report(ctx context.Context, results string, o queue.Outcome) error {
	if results == "" {
		return nil
	}
	st, err := p.q.ResultsStore(ctx, results, false)
	if err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, outcome.ErrBadMessage) {
			p.log.Warn("worker: outcome not reported: no results bucket", "job", o.ID)
			return nil
		}
		return fmt.Errorf("results: %w", err)
	}
	o.V = 1
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if _, err := st.PutBytes(ctx, queue.OutcomeName(o.ID), b); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

func (p *Pool) retry(ctx context.Context, msg jetstream.Msg, m queue.Message, delivered uint64, log *slog.Logger, err error) {
	d := p.cfg.backoff(delivered)
	reason := outcome.Of(err).Reason
	// err may come from the sink or broker; it never holds job content.
	log.Warn("worker: job failed, will retry", "err", err, "delay", d)
	// For operators listing the queue: what went wrong last, and how often.
	if nerr := p.q.NoteAttempt(ctx, m.ID, queue.Attempt{Deliveries: delivered, Reason: reason}); nerr != nil {
		log.Debug("worker: attempt not recorded", "err", nerr)
	}
	msg.NakWithDelay(d)
	p.count(queue.EventRetried, reason)
}

func (p *Pool) ack(ctx context.Context, msg jetstream.Msg, m queue.Message, delivered uint64, result, reason string) {
	if err := msg.DoubleAck(ctx); err != nil {
		// The job will be redelivered and run again: its output has the
		// same name, so the re-run overwrites it.
		p.log.Warn("worker: ack not confirmed", "job", m.ID, "err", err)
		return
	}
	p.count(result, reason)
	p.finish(ctx, m, delivered)
}

// finish cleans up after a job left the queue: its raw object, and the
// record of earlier failed attempts when it had any.
func (p *Pool) finish(ctx context.Context, m queue.Message, delivered uint64) {
	if err := p.q.Finish(ctx, m); err != nil {
		p.log.Warn("worker: sealed image left to expire", "job", m.ID, "err", err)
	}
	if delivered > 1 {
		if err := p.q.ClearAttempt(ctx, m.ID); err != nil {
			p.log.Debug("worker: attempt record left to expire", "job", m.ID, "err", err)
		}
	}
}

// count feeds the metrics and the operator's rates.
func (p *Pool) count(result, reason string) {
	p.q.Event(result)
	if p.m != nil {
		p.m.Jobs.WithLabelValues(result, reason).Inc()
	}
}

// SampleDepth sets m.Pending from the queue every interval until ctx ends.
func SampleDepth(ctx context.Context, q *queue.Queue, m *metrics.Metrics, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if pending, _, err := q.Depth(ctx); err == nil {
			m.Pending.Set(float64(pending))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func nonce() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
