// Package queue is platemask's plumbing on NATS JetStream: the embedded
// broker, connecting to an external one, the streams, consumer and object
// stores (created idempotently), and the job message that travels between
// ingest and workers. Raw bytes only ever reach the broker sealed.
package queue

import (
	"errors"
	"time"
)

// Names of everything platemask keeps in JetStream. Subjects and names
// carry nothing about an image: a job's only identifier is its opaque id.
const (
	StreamJobs       = "PLATEMASK_JOBS"
	SubjectJobs      = "platemask.jobs"
	ConsumerWorkers  = "workers"
	BucketRaw        = "platemask_raw"
	BucketQuarantine = "platemask_quarantine"
	BucketDead       = "platemask_dead"
	BucketOut        = "platemask_out"
)

// Config is how the streams and consumer are set up.
type Config struct {
	// Replicas of every stream and bucket: 1 on one machine, 3 on a
	// cluster.
	Replicas int
	// AckWait is how long a worker may hold a job without a heartbeat
	// before it is redelivered (after a crash, say).
	AckWait time.Duration
	// Duplicates is the window in which a re-sent image (same Nats-Msg-Id)
	// is dropped.
	Duplicates time.Duration
	// RawTTL bounds how long a sealed raw image can stay in the broker.
	RawTTL time.Duration
	// HoldTTL bounds quarantine and dead letters.
	HoldTTL time.Duration
	// InlineMax is the largest sealed image carried in the job message
	// itself; larger ones go through the object store.
	InlineMax int
	// MaxAckPending bounds jobs out with workers at once, over all workers.
	MaxAckPending int
}

// NewDefaultConfig suits one machine.
func NewDefaultConfig() Config {
	return Config{
		Replicas:      1,
		AckWait:       30 * time.Second,
		Duplicates:    10 * time.Minute,
		RawTTL:        7 * 24 * time.Hour,
		HoldTTL:       30 * 24 * time.Hour,
		InlineMax:     256 << 10,
		MaxAckPending: 1024,
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return errors.New("replicas must be 1 to 5")
	case c.AckWait < time.Second:
		return errors.New("ack wait must be at least 1s")
	case c.Duplicates <= 0 || c.RawTTL <= 0 || c.HoldTTL <= 0:
		return errors.New("durations must be positive")
	case c.InlineMax < 0 || c.InlineMax > 768<<10:
		return errors.New("inline limit must be 0 to 768 KiB (the message limit is 1 MiB)")
	case c.MaxAckPending < 1:
		return errors.New("max ack pending must be positive")
	}
	return nil
}
