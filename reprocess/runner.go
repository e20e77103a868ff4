package reprocess

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/store"
)

// Task is one source object to reprocess.
type Task struct {
	Key      string
	Size     int64
	Modified time.Time // as the source listed it; zero when unknown
}

// Status is how a task ended.
type Status string

const (
	Redacted    Status = "redacted"
	Quarantined Status = "quarantined"
	Failed      Status = "failed"
)

// Result is one finished task. A task that did not finish (the run was
// stopped, or a store is unreachable) has no Status and an Err; it is not
// recorded and runs again on resume.
type Result struct {
	Task
	Status  Status
	Output  string // key in the sink or quarantine
	Regions int
	Bytes   int64 // source bytes read
	// Reason is public: it never holds the key or anything from the image.
	Reason string
	Err    error
}

// A Runner carries tasks through the pipeline to the sink and reports each
// result through done, from any goroutine. InProcess runs workers in this
// process; Queued publishes tasks to workers elsewhere.
// Run returns when tasks is closed and every task taken has been reported.
type Runner interface {
	Run(ctx context.Context, tasks <-chan Task, done func(Result)) error
}

// QuarantinePrefix is where quarantined images go in the sink when no
// quarantine store of their own is given.
const QuarantinePrefix = "quarantine/"

// SealedExt names sealed quarantined images.
const SealedExt = ".sealed"

// QuarantineAAD binds sealed quarantined images to their purpose; pass it
// to keys.Ring.Open to review one.
var QuarantineAAD = []byte("platemask/quarantine/v1")

// InProcess runs Workers goroutines, each with its own Processor (and so
// its own detector).
type InProcess struct {
	Workers      int
	NewProcessor func() (*redact.Processor, error)
	Parser       *ingest.Parser
	Keys         *keys.Ring
	Source, Sink store.Store
	// Quarantine receives sealed images without a plate; nil puts them in
	// Sink under QuarantinePrefix.
	Quarantine   store.Store
	DeleteSource bool
	// Retries of a store operation that failed (default 3), with backoff.
	Retries int
}

// Run implements Runner.
func (r *InProcess) Run(ctx context.Context, tasks <-chan Task, done func(Result)) error {
	procs := make([]*redact.Processor, 0, max(1, r.Workers))
	defer func() {
		for _, p := range procs {
			p.Close()
		}
	}()
	for range max(1, r.Workers) {
		p, err := r.NewProcessor()
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				done(r.one(ctx, p, t))
			}
		}()
	}
	wg.Wait()
	return nil
}

// errStore marks a store that failed after retries: the run stops rather
// than marking every object failed while a store is down.
var errStore = errors.New("store unavailable")

func (r *InProcess) one(ctx context.Context, p *redact.Processor, t Task) Result {
	res := Result{Task: t}
	unfinished := func(err error) Result {
		res.Err = err
		return res
	}
	failed := func(reason string) Result {
		res.Status, res.Reason = Failed, reason
		return res
	}
	var data []byte
	err := r.retry(ctx, func() (err error) {
		data, err = r.Source.Get(ctx, t.Key, p.Limits.MaxBytes)
		return err
	})
	switch {
	case errors.Is(err, store.ErrTooLarge):
		return failed(codec.ErrTooLarge.Error())
	case errors.Is(err, store.ErrNotFound):
		return failed("vanished from the source while running")
	case err != nil:
		return unfinished(fmt.Errorf("%w: source: %w", errStore, err))
	}
	res.Bytes = int64(len(data))

	name := r.Parser.Parse(t.Key)
	job := &redact.Job{Data: data, Source: path.Base(t.Key), Camera: name.Camera, Name: name}
	err = p.Process(ctx, job)
	switch {
	case errors.Is(err, redact.ErrNoPlate):
		return r.quarantine(ctx, res, job)
	case ctx.Err() != nil:
		return unfinished(ctx.Err())
	case err != nil:
		return failed(err.Error())
	}
	rec, err := marshalRecord(job.Record)
	if err != nil {
		return failed(err.Error())
	}
	img := job.Record.Image
	meta := strings.TrimSuffix(img, ".jpg") + ".json"
	if err := r.put(ctx, r.Sink, img, job.Output, "image/jpeg"); err != nil {
		return unfinished(err)
	}
	if err := r.put(ctx, r.Sink, meta, rec, "application/json"); err != nil {
		return unfinished(err)
	}
	if err := r.deleteSource(ctx, t.Key); err != nil {
		return unfinished(err)
	}
	res.Status, res.Output, res.Regions = Redacted, img, job.Record.Regions
	return res
}

// quarantine stores the raw image sealed, under a name derived like an
// output name, so a re-run overwrites it.
func (r *InProcess) quarantine(ctx context.Context, res Result, job *redact.Job) Result {
	k := r.Keys.Current()
	name := strings.TrimSuffix(redact.OutputName(k.HMAC, job.Camera, job.Source, job.Data), ".jpg") + SealedExt
	dst, key := r.Quarantine, name
	if dst == nil {
		dst, key = r.Sink, QuarantinePrefix+name
	}
	sealed, err := r.Keys.Seal(job.Data, QuarantineAAD)
	if err != nil {
		res.Status, res.Reason = Failed, err.Error()
		return res
	}
	if err := r.put(ctx, dst, key, sealed, "application/octet-stream"); err != nil {
		res.Err = err
		return res
	}
	if err := r.deleteSource(ctx, res.Key); err != nil {
		res.Err = err
		return res
	}
	res.Status, res.Output = Quarantined, key
	return res
}

func (r *InProcess) put(ctx context.Context, s store.Store, key string, data []byte, contentType string) error {
	return putVerified(ctx, s, r.Retries, key, data, contentType)
}

// putVerified writes and then verifies that the object is there whole.
func putVerified(ctx context.Context, s store.Store, retries int, key string, data []byte, contentType string) error {
	err := retryStore(ctx, retries, func() error {
		if err := s.Put(ctx, key, data, contentType); err != nil {
			return err
		}
		o, err := s.Stat(ctx, key)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if o.Size != int64(len(data)) {
			return fmt.Errorf("verify: stored %d bytes of %d", o.Size, len(data))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: sink: %w", errStore, err)
	}
	return nil
}

func (r *InProcess) deleteSource(ctx context.Context, key string) error {
	if !r.DeleteSource {
		return nil
	}
	return deleteSource(ctx, r.Source, r.Retries, key)
}

func deleteSource(ctx context.Context, s store.Store, retries int, key string) error {
	if err := retryStore(ctx, retries, func() error { return s.Delete(ctx, key) }); err != nil {
		return fmt.Errorf("%w: delete source: %w", errStore, err)
	}
	return nil
}

func (r *InProcess) retry(ctx context.Context, op func() error) error {
	return retryStore(ctx, r.Retries, op)
}

// retryStore runs op until it succeeds, fails for good (not found, too
// large, bad key) or the retries are spent (0: 3).
func retryStore(ctx context.Context, retries int, op func() error) error {
	if retries == 0 {
		retries = 3
	}
	delay := 200 * time.Millisecond
	for i := 0; ; i++ {
		err := op()
		if err == nil || i >= retries || ctx.Err() != nil ||
			errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrTooLarge) || errors.Is(err, store.ErrBadURL) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay *= 2
	}
}
