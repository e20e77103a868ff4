package queue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/keys"
)

// States of a job, as operators see them.
const (
	StatePending     = "pending"     // never delivered yet
	StateDelivered   = "delivered"   // with a worker, or waiting for a retry
	StateDead        = "dead"        // in dead letters
	StateQuarantined = "quarantined" // in quarantine
)

// Errors of the operator's side.
var (
	ErrJobNotFound = errors.New("job not found")
	ErrNoPayload   = errors.New("job has no sealed image left (payload missing): it cannot be retried")
	ErrNoKeys      = errors.New("this needs the keys")
)

// JobInfo is what the queue knows about a job, in the clear: nothing of
// its content, and its meta only sealed.
type JobInfo struct {
	ID    string
	State string
	// Since is when the job was queued (pending) or held (dead,
	// quarantined); tools show its age only.
	Since      time.Time
	Deliveries uint64
	Reason     string
	// Size is the sealed image's size in bytes.
	Size uint64
	// Object is set when the sealed image travels through the object
	// store rather than in the message.
	Object bool
	// Seq is the job message's stream sequence (queued jobs).
	Seq uint64
	// Meta is the sealed Meta; OpenMeta opens it.
	Meta []byte
}

// Pending calls visit with every queued job (pending or delivered), oldest
// first, until visit returns false. Each job reads its message: keep
// visit's work small.
func (q *Queue) Pending(ctx context.Context, visit func(JobInfo) bool) error {
	s, err := q.js.Stream(ctx, StreamJobs)
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamJobs, err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		return nil
	}
	var delivered uint64
	if c, err := q.Consumer(ctx); err == nil {
		delivered = c.CachedInfo().Delivered.Stream
	}
	for seq := st.FirstSeq; seq <= st.LastSeq; {
		raw, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(SubjectJobs))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		seq = raw.Sequence + 1
		j := JobInfo{State: StatePending, Since: raw.Time, Seq: raw.Sequence}
		j.ID, _, _ = strings.Cut(raw.Header.Get("Nats-Msg-Id"), ".")
		if m, err := ParseMessage(raw.Data); err == nil {
			j.ID, j.Meta, j.Object = m.ID, m.Meta, m.Object != ""
			j.Size = uint64(len(m.Data))
			if j.Object {
				if oi, err := q.raw.GetInfo(ctx, m.Object); err == nil {
					j.Size = oi.Size
				}
			}
		} else {
			j.Reason = "malformed job"
		}
		if raw.Sequence <= delivered {
			j.State = StateDelivered
			j.Deliveries = 1
			if a, ok, _ := q.LastAttempt(ctx, j.ID); ok {
				j.Deliveries, j.Reason = a.Deliveries, a.Reason
			}
		}
		if !visit(j) {
			return nil
		}
	}
	return nil
}

func (q *Queue) held(dead bool) jetstream.ObjectStore {
	if dead {
		return q.dead
	}
	return q.quarantine
}

// HeldJobs lists dead letters or quarantined jobs, oldest first.
func (q *Queue) HeldJobs(ctx context.Context, dead bool) ([]JobInfo, error) {
	infos, err := q.Held(ctx, dead)
	if err != nil {
		return nil, fmt.Errorf("list held jobs: %w", err)
	}
	out := make([]JobInfo, 0, len(infos))
	for _, oi := range infos {
		out = append(out, heldInfo(oi, dead))
	}
	sortBySince(out)
	return out, nil
}

func heldInfo(oi *jetstream.ObjectInfo, dead bool) JobInfo {
	j := JobInfo{ID: oi.Name, State: StateQuarantined, Reason: oi.Metadata["reason"], Size: oi.Size, Since: oi.ModTime}
	if dead {
		j.State = StateDead
	}
	if at, err := strconv.ParseInt(oi.Metadata["at"], 10, 64); err == nil {
		j.Since = time.Unix(at, 0)
	}
	j.Deliveries, _ = strconv.ParseUint(oi.Metadata["deliveries"], 10, 64)
	j.Meta, _ = base64.StdEncoding.DecodeString(oi.Metadata["meta"])
	return j
}

func sortBySince(js []JobInfo) {
	for i := 1; i < len(js); i++ {
		for k := i; k > 0 && js[k].Since.Before(js[k-1].Since); k-- {
			js[k], js[k-1] = js[k-1], js[k]
		}
	}
}

// Find looks a job up in dead letters, quarantine and the queue.
func (q *Queue) Find(ctx context.Context, id string) (JobInfo, error) {
	for _, dead := range []bool{true, false} {
		oi, err := q.held(dead).GetInfo(ctx, id)
		if err == nil {
			return heldInfo(oi, dead), nil
		}
		if !errors.Is(err, jetstream.ErrObjectNotFound) {
			return JobInfo{}, fmt.Errorf("look up job: %w", err)
		}
	}
	var found *JobInfo
	err := q.Pending(ctx, func(j JobInfo) bool {
		if j.ID == id {
			found = &j
		}
		return found == nil
	})
	if err != nil {
		return JobInfo{}, err
	}
	if found == nil {
		return JobInfo{}, ErrJobNotFound
	}
	return *found, nil
}

// OpenMeta opens a job's sealed meta.
func (q *Queue) OpenMeta(j JobInfo) (Meta, error) {
	var meta Meta
	if q.ring == nil {
		return meta, ErrNoKeys
	}
	plain, err := q.ring.Open(j.Meta, metaAAD(j.ID))
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(plain, &meta); err != nil {
		return meta, fmt.Errorf("job meta: %w", err)
	}
	return meta, nil
}

// Ring is the key ring the queue was opened with (nil: none).
func (q *Queue) Ring() *keys.Ring { return q.ring }

// OpenHeld returns the plaintext image and meta of a held job.
func (q *Queue) OpenHeld(ctx context.Context, dead bool, id string) ([]byte, Meta, error) {
	if q.ring == nil {
		return nil, Meta{}, ErrNoKeys
	}
	oi, err := q.held(dead).GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, Meta{}, ErrJobNotFound
	}
	if err != nil {
		return nil, Meta{}, fmt.Errorf("look up job: %w", err)
	}
	j := heldInfo(oi, dead)
	meta, err := q.OpenMeta(j)
	if err != nil {
		return nil, meta, err
	}
	sealed, err := q.held(dead).GetBytes(ctx, id)
	if err != nil {
		return nil, meta, fmt.Errorf("read held image: %w", err)
	}
	if len(sealed) == 0 {
		return nil, meta, ErrNoPayload
	}
	data, err := q.ring.Open(sealed, RawAAD(id))
	return data, meta, err
}

// Requeue moves a held job back to the workers, with its meta changed by
// edit when edit is set (which needs the keys). The job keeps its id, so
// its output keeps its name; the held copy is removed only once the job is
// queued again.
func (q *Queue) Requeue(ctx context.Context, dead bool, id string, edit func(*Meta) error) error {
	st := q.held(dead)
	oi, err := st.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ErrJobNotFound
	}
	if err != nil {
		return fmt.Errorf("look up job: %w", err)
	}
	j := heldInfo(oi, dead)
	if oi.Size == 0 || len(j.Meta) == 0 {
		return ErrNoPayload
	}
	m := Message{ID: id, Meta: j.Meta}
	if edit != nil {
		meta, err := q.OpenMeta(j)
		if err != nil {
			return err
		}
		if err := edit(&meta); err != nil {
			return err
		}
		plain, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		if m.Meta, err = q.ring.Seal(plain, metaAAD(id)); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
	}
	sealed, err := st.GetBytes(ctx, id)
	if err != nil {
		return fmt.Errorf("read held image: %w", err)
	}
	// A fresh message id: the first send's id is still in the duplicate
	// window, and would drop this one.
	if _, err := q.publish(ctx, m, sealed, id+".requeue."+nonce()); err != nil {
		return err
	}
	if err := st.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("job queued again, but its held copy remains: %w", err)
	}
	return nil
}

// What Purge empties.
const (
	PurgePending    = "pending"
	PurgeDead       = "dead"
	PurgeQuarantine = "quarantine"
)

// Purge drops every job of a kind and returns how many it dropped.
// Purging pending jobs also drops those in hand with workers.
func (q *Queue) Purge(ctx context.Context, what string) (int, error) {
	var streams []string
	n := 0
	switch what {
	case PurgePending:
		s, err := q.js.Stream(ctx, StreamJobs)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", StreamJobs, err)
		}
		n = int(s.CachedInfo().State.Msgs)
		streams = []string{StreamJobs, "OBJ_" + BucketRaw, "KV_" + BucketAttempts}
	case PurgeDead, PurgeQuarantine:
		dead := what == PurgeDead
		infos, err := q.Held(ctx, dead)
		if err != nil {
			return 0, fmt.Errorf("list held jobs: %w", err)
		}
		n = len(infos)
		name := BucketQuarantine
		if dead {
			name = BucketDead
		}
		streams = []string{"OBJ_" + name}
	default:
		return 0, fmt.Errorf("purge %q: pending, dead or quarantine", what)
	}
	for _, name := range streams {
		s, err := q.js.Stream(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", name, err)
		}
		if err := s.Purge(ctx); err != nil {
			return 0, fmt.Errorf("purge %s: %w", name, err)
		}
	}
	return n, nil
}

// ConsumerState is the workers' consumer as the broker sees it.
type ConsumerState struct {
	Pending, InFlight, Redelivered, Waiting int
	// AckFloor is the stream sequence below which every job settled.
	AckFloor uint64
}

// State reads the workers' consumer.
func (q *Queue) State(ctx context.Context) (ConsumerState, error) {
	c, err := q.Consumer(ctx)
	if err != nil {
		return ConsumerState{}, fmt.Errorf("workers' consumer: %w", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return ConsumerState{}, fmt.Errorf("workers' consumer: %w", err)
	}
	return ConsumerState{Pending: int(info.NumPending), InFlight: info.NumAckPending,
		Redelivered: info.NumRedelivered, Waiting: info.NumWaiting, AckFloor: info.AckFloor.Stream}, nil
}

// Oldest returns when the oldest queued job was queued (zero: none).
func (q *Queue) Oldest(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := q.Pending(ctx, func(j JobInfo) bool { t = j.Since; return false })
	return t, err
}
