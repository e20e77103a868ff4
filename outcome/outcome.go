// Package outcome is the one table that says what each kind of failure
// means: the HTTP status the ingest endpoint answers with, and what the
// worker does with the job (retry later, dead-letter, quarantine). The
// ingest handler and the worker's settle step both read it, so a kind of
// error can never mean one thing at the door and another in the queue.
package outcome

import (
	"context"
	"errors"
	"net/http"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
)

// Action is what the worker does with a job that failed.
type Action int

const (
	// Retry redelivers the job later: the failure may pass (a broker or
	// sink hiccup, a shutdown).
	Retry Action = iota
	// Dead moves the job, sealed, to dead letters: the same bytes can never
	// succeed.
	Dead
	// Quarantine holds the job, sealed, for review: it decoded fine but no
	// plate was found, and the policy fails closed.
	Quarantine
)

func (a Action) String() string {
	switch a {
	case Dead:
		return "dead"
	case Quarantine:
		return "quarantine"
	}
	return "retry"
}

// Kind is one row of the table.
type Kind struct {
	Err    error
	Status int
	Action Action
	// Reason is short and public: it goes into responses, logs, metric
	// labels and dead letters, so it never holds anything from the input.
	Reason string
}

// Errors the pipeline itself raises.
var (
	// ErrUnauthorized: no or unknown bearer token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrBusy: too many uploads in flight; the client should retry.
	ErrBusy = errors.New("busy")
	// ErrBadRequest: a request that is not an upload platemask understands.
	ErrBadRequest = errors.New("bad request")
	// ErrPayloadMissing: the job's sealed image is gone from the broker
	// (expired, or deleted by hand).
	ErrPayloadMissing = errors.New("payload missing")
	// ErrBadMessage: a job message that does not parse.
	ErrBadMessage = errors.New("malformed job message")
	// ErrExhausted: the job failed or crashed its worker on every allowed
	// delivery.
	ErrExhausted = errors.New("deliveries exhausted")
)

// table is searched in order; the first kind err matches wins.
var table = []Kind{
	{ErrUnauthorized, http.StatusUnauthorized, Dead, "unauthorized"},
	{ErrBusy, http.StatusTooManyRequests, Retry, "busy"},
	{ErrBadRequest, http.StatusBadRequest, Dead, "bad request"},
	{codec.ErrEmpty, http.StatusBadRequest, Dead, "empty input"},
	{codec.ErrTooLarge, http.StatusRequestEntityTooLarge, Dead, "too large"},
	{codec.ErrDimensions, http.StatusRequestEntityTooLarge, Dead, "dimensions over limit"},
	{codec.ErrNotJPEG, http.StatusUnsupportedMediaType, Dead, "not a jpeg"},
	{codec.ErrUnsupported, http.StatusUnsupportedMediaType, Dead, "unsupported jpeg"},
	{codec.ErrCorrupt, http.StatusUnprocessableEntity, Dead, "corrupt jpeg"},
	{keys.ErrSealed, http.StatusInternalServerError, Dead, "cannot open sealed payload"},
	{ErrPayloadMissing, http.StatusInternalServerError, Dead, "payload missing"},
	{ErrBadMessage, http.StatusInternalServerError, Dead, "malformed job"},
	{ErrExhausted, http.StatusInternalServerError, Dead, "deliveries exhausted"},
	{redact.ErrNoPlate, http.StatusAccepted, Quarantine, "no plate found"},
	{codec.ErrEncode, http.StatusInternalServerError, Retry, "encode failed"},
	{context.Canceled, http.StatusServiceUnavailable, Retry, "shutting down"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, Retry, "timeout"},
}

// unknown is anything else: assumed transient (broker, disk), retried with
// backoff until the deliveries run out.
var unknown = Kind{Status: http.StatusServiceUnavailable, Action: Retry, Reason: "transient"}

// Of classifies err. It must not be nil.
func Of(err error) Kind {
	for _, k := range table {
		if errors.Is(err, k.Err) {
			return k
		}
	}
	k := unknown
	k.Err = err
	return k
}

// Reasons lists every public reason, for metrics and docs.
func Reasons() []string {
	out := make([]string, 0, len(table)+1)
	for _, k := range table {
		out = append(out, k.Reason)
	}
	return append(out, unknown.Reason)
}
