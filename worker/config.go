// Package worker is the JetStream consumer that turns jobs into stored
// outputs: fetch, unseal, redact, store, ack; with heartbeats for slow
// images, retries with backoff, dead letters, quarantine and a graceful
// drain.
package worker

import (
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/platemask/platemask/metrics"
	"github.com/platemask/platemask/redact"
)

// Config is how a pool of workers runs.
type Config struct {
	// Workers is how many jobs run at once, each with its own Processor.
	Workers int
	// MaxAttempts is how many deliveries a job gets before it goes to dead
	// letters, counting deliveries whose worker crashed.
	MaxAttempts int
	// Backoff is the delay before the next attempt after the nth transient
	// failure (the last value repeats).
	Backoff []time.Duration
	// Heartbeat is how often a running job tells the broker it is alive;
	// 0 means a third of the queue's ack wait.
	Heartbeat time.Duration
	// FetchWait bounds one pull request; it is also the longest a
	// shutdown waits for the fetch loop.
	FetchWait time.Duration
	// NewProcessor makes one Processor per worker (each with its own
	// detector). Their detectors are closed when Run returns.
	NewProcessor func() (*redact.Processor, error)
	Log          *slog.Logger
	Metrics      *metrics.Metrics // nil: none
}

// NewDefaultConfig has one worker per core.
func NewDefaultConfig() Config {
	return Config{
		Workers:     runtime.NumCPU(),
		MaxAttempts: 5,
		Backoff:     []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
		FetchWait:   2 * time.Second,
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Workers < 1:
		return errors.New("workers must be at least 1")
	case c.MaxAttempts < 1:
		return errors.New("max attempts must be at least 1")
	case len(c.Backoff) == 0:
		return errors.New("no backoff")
	case c.FetchWait < 100*time.Millisecond:
		return errors.New("fetch wait must be at least 100ms")
	case c.NewProcessor == nil:
		return errors.New("no processor")
	}
	return nil
}

func (c Config) backoff(attempt uint64) time.Duration {
	i := int(min(attempt, uint64(len(c.Backoff)))) - 1
	return c.Backoff[max(i, 0)]
}
