package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/outcome"
)

// Queue is a connection to platemask's streams and buckets.
type Queue struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	ring *keys.Ring
	cfg  Config

	raw, quarantine, dead jetstream.ObjectStore

	control, workers, attempts jetstream.KeyValue
}

// Open sets up (idempotently) and returns the queue on nc. Every process
// that opens it runs the same setup, so none depends on another having
// started first.
func Open(ctx context.Context, nc *nats.Conn, ring *keys.Ring, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	q := &Queue{nc: nc, js: js, ring: ring, cfg: cfg}
	// A cluster that is electing leaders answers with errors, or not at
	// all, for a while: each attempt gets its own deadline.
	err = retry(ctx, func() error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return q.setup(actx)
	})
	if err != nil {
		return nil, fmt.Errorf("set up streams: %w", err)
	}
	return q, nil
}

// setup creates what is missing and updates only what differs: on a
// cluster with a node down, an update needs every replica's answer, while
// reading the current state needs only a leader.
func (q *Queue) setup(ctx context.Context) error {
	want := jetstream.StreamConfig{
		Name:        StreamJobs,
		Description: "platemask jobs: opaque ids and sealed payloads",
		Subjects:    []string{SubjectJobs},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    q.cfg.Replicas,
		Duplicates:  q.cfg.Duplicates,
		MaxAge:      q.cfg.RawTTL,
	}
	s, err := q.js.Stream(ctx, StreamJobs)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		_, err = q.js.CreateStream(ctx, want)
	case err == nil:
		have := s.CachedInfo().Config
		if have.Replicas != want.Replicas || have.Duplicates != want.Duplicates || have.MaxAge != want.MaxAge {
			_, err = q.js.UpdateStream(ctx, want)
		}
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamJobs, err)
	}
	wantC := jetstream.ConsumerConfig{
		Durable:       ConsumerWorkers,
		Description:   "platemask workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxAckPending: q.cfg.MaxAckPending,
		// Workers count deliveries themselves and dead-letter a job that
		// used them up, also when every attempt crashed its worker; a
		// server-side limit would leave such a job stranded in the stream.
		MaxDeliver: -1,
		Replicas:   q.cfg.Replicas,
	}
	c, err := q.js.Consumer(ctx, StreamJobs, ConsumerWorkers)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		_, err = q.js.CreateOrUpdateConsumer(ctx, StreamJobs, wantC)
	case err == nil:
		have := c.CachedInfo().Config
		if have.AckWait != wantC.AckWait || have.MaxAckPending != wantC.MaxAckPending {
			_, err = q.js.CreateOrUpdateConsumer(ctx, StreamJobs, wantC)
		}
	}
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	stores := []struct {
		dst  *jetstream.ObjectStore
		name string
		ttl  time.Duration
		desc string
	}{
		{&q.raw, BucketRaw, q.cfg.RawTTL, "sealed raw images awaiting a worker"},
		{&q.quarantine, BucketQuarantine, q.cfg.HoldTTL, "sealed images in which no plate was found"},
		{&q.dead, BucketDead, q.cfg.HoldTTL, "sealed images that failed for good"},
	}
	for _, s := range stores {
		st, err := q.js.ObjectStore(ctx, s.name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			st, err = q.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
				Bucket: s.name, Description: s.desc, TTL: s.ttl,
				Storage: jetstream.FileStorage, Replicas: q.cfg.Replicas,
			})
		}
		if err != nil {
			return fmt.Errorf("bucket %s: %w", s.name, err)
		}
		*s.dst = st
	}
	return q.setupOps(ctx)
}

// JetStream exposes the context, for sinks and tools built on the same
// connection.
func (q *Queue) JetStream() jetstream.JetStream { return q.js }

// Config is the configuration the queue was opened with.
func (q *Queue) Config() Config { return q.cfg }

// Receipt is what Submit reports.
type Receipt struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Submit seals img and publishes its job. It returns once JetStream has
// stored the job (on a quorum of replicas), so the caller may then answer
// the camera or delete the file.
func (q *Queue) Submit(ctx context.Context, img Image) (Receipt, error) {
	key := q.ring.Current()
	id := JobID(key.HMAC, img.Camera, img.Source, img.Data)
	if img.Results != "" && !validResults(img.Results) {
		return Receipt{}, fmt.Errorf("results bucket %q is not named %s...", img.Results, ResultsPrefix)
	}
	meta, err := json.Marshal(Meta{Camera: img.Camera, Source: img.Source, Time: img.Time, Static: img.Static, Network: img.Network, Results: img.Results})
	if err != nil {
		return Receipt{}, err
	}
	m := Message{ID: id}
	if m.Meta, err = q.ring.Seal(meta, metaAAD(id)); err != nil {
		return Receipt{}, fmt.Errorf("seal: %w", err)
	}
	sealed, err := q.ring.Seal(img.Data, RawAAD(id))
	if err != nil {
		return Receipt{}, fmt.Errorf("seal: %w", err)
	}
	dup, err := q.publish(ctx, m, sealed, id)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{ID: id, Duplicate: dup}, nil
}

// publish sends m with its sealed image, inline or through the object
// store, deduplicated on msgID.
func (q *Queue) publish(ctx context.Context, m Message, sealed []byte, msgID string) (duplicate bool, err error) {
	if len(sealed) <= q.cfg.InlineMax {
		m.Data = sealed
	} else {
		// A fresh suffix per send: a duplicate's object can then be removed
		// without touching the one the first send's job points at.
		m.Object = m.ID + "." + nonce()
		if _, err := q.raw.PutBytes(ctx, m.Object, sealed); err != nil {
			return false, fmt.Errorf("store sealed image: %w", err)
		}
	}
	body, err := m.Encode()
	if err != nil {
		return false, err
	}
	ack, err := q.js.Publish(ctx, SubjectJobs, body, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(StreamJobs))
	if err != nil {
		q.dropObject(m.Object)
		return false, fmt.Errorf("publish job: %w", err)
	}
	if ack.Duplicate {
		q.dropObject(m.Object)
	}
	return ack.Duplicate, nil
}

func (q *Queue) dropObject(name string) {
	if name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = q.raw.Delete(ctx, name) // what is left expires with RawTTL
}

// Open returns the plaintext image and meta of m.
func (q *Queue) Open(ctx context.Context, m Message) ([]byte, Meta, error) {
	var meta Meta
	plain, err := q.ring.Open(m.Meta, metaAAD(m.ID))
	if err != nil {
		return nil, meta, err
	}
	if err := json.Unmarshal(plain, &meta); err != nil {
		return nil, meta, fmt.Errorf("%w: meta", outcome.ErrBadMessage)
	}
	sealed, err := q.sealed(ctx, m)
	if err != nil {
		return nil, meta, err
	}
	data, err := q.ring.Open(sealed, RawAAD(m.ID))
	return data, meta, err
}

// sealed returns the sealed image of m.
func (q *Queue) sealed(ctx context.Context, m Message) ([]byte, error) {
	if m.Object == "" {
		return m.Data, nil
	}
	b, err := q.raw.GetBytes(ctx, m.Object)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, outcome.ErrPayloadMissing
	}
	if err != nil {
		return nil, fmt.Errorf("fetch sealed image: %w", err)
	}
	return b, nil
}

// ResultsStore opens a results bucket, creating it (with the queue's
// replicas) when create is set. Names without ResultsPrefix are refused.
func (q *Queue) ResultsStore(ctx context.Context, bucket string, create bool) (jetstream.ObjectStore, error) {
	if !validResults(bucket) {
		return nil, fmt.Errorf("%w: results bucket %q", outcome.ErrBadMessage, bucket)
	}
	st, err := q.js.ObjectStore(ctx, bucket)
	if err == nil || !create || !errors.Is(err, jetstream.ErrBucketNotFound) {
		return st, err
	}
	return q.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: bucket, Description: "platemask outputs and outcomes of one caller's jobs",
		Storage: jetstream.FileStorage, Replicas: max(1, q.cfg.Replicas),
	})
}

// DropResults deletes a results bucket that holds nothing any more, when
// its caller is done with it. A bucket that still holds objects is kept.
func (q *Queue) DropResults(ctx context.Context, bucket string) error {
	st, err := q.ResultsStore(ctx, bucket, false)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	left, err := st.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return fmt.Errorf("results bucket: %w", err)
	}
	if len(left) > 0 {
		return nil
	}
	if err := q.js.DeleteObjectStore(ctx, bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("results bucket: %w", err)
	}
	return nil
}

// Finish deletes m's raw object once the job is settled. An object left
// behind by a crash expires with RawTTL.
func (q *Queue) Finish(ctx context.Context, m Message) error {
	if m.Object == "" {
		return nil
	}
	err := q.raw.Delete(ctx, m.Object)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete sealed image: %w", err)
	}
	return nil
}

// Quarantine keeps m's sealed image for review.
func (q *Queue) Quarantine(ctx context.Context, m Message, reason string) error {
	return q.hold(ctx, q.quarantine, m, reason, 0)
}

// DeadLetter keeps m's sealed image with the reason it failed for good.
func (q *Queue) DeadLetter(ctx context.Context, m Message, reason string, deliveries uint64) error {
	return q.hold(ctx, q.dead, m, reason, deliveries)
}

// hold copies m's sealed image (never the plaintext) into a bucket under
// its job id, with the reason and sealed meta beside it.
func (q *Queue) hold(ctx context.Context, st jetstream.ObjectStore, m Message, reason string, deliveries uint64) error {
	sealed, err := q.sealed(ctx, m)
	if errors.Is(err, outcome.ErrPayloadMissing) {
		sealed = nil // still record that the job failed
	} else if err != nil {
		return err
	}
	md := map[string]string{
		"reason": reason,
		"meta":   base64.StdEncoding.EncodeToString(m.Meta),
		"at":     strconv.FormatInt(time.Now().Unix(), 10),
	}
	if deliveries > 0 {
		md["deliveries"] = strconv.FormatUint(deliveries, 10)
	}
	_, err = st.Put(ctx, jetstream.ObjectMeta{Name: m.ID, Metadata: md}, bytes.NewReader(sealed))
	if err != nil {
		return fmt.Errorf("hold sealed image: %w", err)
	}
	return nil
}

// Held lists the ids in quarantine or dead letters, for tools and tests.
func (q *Queue) Held(ctx context.Context, dead bool) ([]*jetstream.ObjectInfo, error) {
	st := q.quarantine
	if dead {
		st = q.dead
	}
	infos, err := st.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	return infos, err
}

// Consumer returns the workers' pull consumer.
func (q *Queue) Consumer(ctx context.Context) (jetstream.Consumer, error) {
	return q.js.Consumer(ctx, StreamJobs, ConsumerWorkers)
}

// Depth reports jobs waiting and jobs out with workers.
func (q *Queue) Depth(ctx context.Context) (pending, inFlight int, err error) {
	c, err := q.Consumer(ctx)
	if err != nil {
		return 0, 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return int(info.NumPending), info.NumAckPending, nil
}

// Ready checks that the broker answers for the jobs stream.
func (q *Queue) Ready(ctx context.Context) error {
	if !q.nc.IsConnected() {
		return errors.New("broker not connected")
	}
	_, err := q.js.Stream(ctx, StreamJobs)
	return err
}

func nonce() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// retry runs f until it succeeds, ctx ends or a minute passes.
func retry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(time.Minute)
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
