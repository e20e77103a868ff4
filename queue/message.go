package queue

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/platemask/platemask/outcome"
)

// Image is what ingest hands to the queue: the raw bytes and what is known
// about them. All of it is sealed before it leaves the process.
type Image struct {
	Data   []byte
	Source string    // original file name: sealed, and fed to the name HMAC
	Camera string    // camera id
	Time   time.Time // capture time parsed from the name, zero if none
	// Static are the camera's mask rectangles (burned-in overlays).
	Static []image.Rectangle
	// Network is the opt-in detector network the camera is set to use
	// ("" for the worker's own).
	Network string
	// Results, when set, is a results bucket (see ResultsBucket): the
	// worker puts the output and an Outcome there instead of into its own
	// sink, for a caller that waits on each job (reprocess).
	Results string
}

// Message is the job message on SubjectJobs. In the clear it holds only
// an opaque id and an object name derived from it.
//
// On the wire (version 2) it is its JSON, without Data, and for an image
// that travels inline a newline and the sealed image's bytes. Version 1
// carried the image inside the JSON as base64, which at camera sizes cost
// about a millisecond a job to write and as much to read; ParseMessage
// still reads it, so jobs queued by an earlier release are done, not
// dead-lettered. (Workers must be upgraded before whatever submits jobs:
// an earlier worker dead-letters version 2 as malformed.)
type Message struct {
	V  int    `json:"v"`
	ID string `json:"id"`
	// Meta is the sealed JSON of Meta.
	Meta []byte `json:"meta"`
	// Data is the sealed image when small enough to travel inline.
	Data []byte `json:"data,omitempty"`
	// Object names the sealed image in BucketRaw otherwise.
	Object string `json:"object,omitempty"`
}

// messageVersion is the version Encode writes.
const messageVersion = 2

// Encode returns m as it goes on the wire, in the current version.
func (m Message) Encode() ([]byte, error) {
	data := m.Data
	m.V, m.Data = messageVersion, nil
	head, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode job message: %w", err)
	}
	if len(data) == 0 {
		return head, nil
	}
	// JSON as encoding/json writes it holds no raw newline, so the first
	// one ends the header.
	body := make([]byte, 0, len(head)+1+len(data))
	return append(append(append(body, head...), '\n'), data...), nil
}

// Meta is what a worker needs besides the pixels.
type Meta struct {
	Camera string            `json:"camera,omitempty"`
	Source string            `json:"source,omitempty"`
	Time   time.Time         `json:"time,omitzero"`
	Static []image.Rectangle `json:"static,omitempty"`
	// Network is Image.Network.
	Network string `json:"network,omitempty"`
	// Manual are regions an operator gave when releasing the job from
	// quarantine; they are redacted as given.
	Manual []image.Rectangle `json:"manual,omitempty"`
	// Review is set when an operator released the job: ReviewRegions or
	// ReviewNoPlate.
	Review string `json:"review,omitempty"`
	// Results is Image.Results.
	Results string `json:"results,omitempty"`
}

// What an operator decided about a quarantined job.
const (
	ReviewRegions = "operator-regions"
	ReviewNoPlate = "operator-no-plate"
)

// ParseMessage reads a job message of either version. An inline image's
// Data shares b's memory.
func ParseMessage(b []byte) (Message, error) {
	head, data, inline := bytes.Cut(b, []byte{'\n'})
	var m Message
	if err := json.Unmarshal(head, &m); err != nil {
		return m, fmt.Errorf("%w: not JSON", outcome.ErrBadMessage)
	}
	switch {
	case m.V != 1 && m.V != 2:
		return m, fmt.Errorf("%w: unknown version %d", outcome.ErrBadMessage, m.V)
	case m.V == 1 && inline:
		return m, fmt.Errorf("%w: bytes after a version 1 message", outcome.ErrBadMessage)
	case m.V == 2 && len(m.Data) > 0:
		return m, fmt.Errorf("%w: image inside a version 2 message's JSON", outcome.ErrBadMessage)
	case m.V == 2 && inline:
		m.Data = data
	}
	if m.ID == "" || len(m.Meta) == 0 || (len(m.Data) == 0) == (m.Object == "") {
		return m, fmt.Errorf("%w: missing fields", outcome.ErrBadMessage)
	}
	return m, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// JobID is the opaque, stable id of an image: a keyed hash of the camera,
// the source name and the content. The same image sent twice gets the same
// id, which JetStream uses (as Nats-Msg-Id) to drop the second.
func JobID(key []byte, camera, source string, content []byte) string {
	sum := sha256.Sum256(content)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("platemask/job/v1\x00"))
	m.Write([]byte(camera))
	m.Write([]byte{0})
	m.Write([]byte(source))
	m.Write([]byte{0})
	m.Write(sum[:])
	return strings.ToLower(b32.EncodeToString(m.Sum(nil))[:26])
}

// Additional data binding each sealed part to its job: a sealed image
// cannot be replayed under another job's id.
func metaAAD(id string) []byte { return []byte("platemask/meta/" + id) }

// RawAAD is the additional data of a job's sealed image, also in
// quarantine and dead letters: open those with keys.Ring.Open(data,
// RawAAD(id)).
func RawAAD(id string) []byte { return []byte("platemask/raw/" + id) }

// ResultsPrefix starts the name of every results bucket. Workers write
// only into buckets named so: a job cannot point them anywhere else.
const ResultsPrefix = "PLATEMASK_RESULTS_"

// ResultsBucket is the results bucket for a caller's run, named by a
// stable label (letters, digits, - and _), so that a resumed run finds the
// outcomes of jobs published before it stopped.
func ResultsBucket(label string) string { return ResultsPrefix + label }

func validResults(bucket string) bool {
	return strings.HasPrefix(bucket, ResultsPrefix) && len(bucket) > len(ResultsPrefix)
}

// Outcome is what a worker reports in a results bucket, under
// OutcomeName(ID), once a job has left the queue. It names nothing but
// the job and its opaque output.
type Outcome struct {
	V       int    `json:"v"`
	ID      string `json:"id"`
	Result  string `json:"result"`          // EventStored, EventQuarantined or EventDead
	Image   string `json:"image,omitempty"` // the output's name in the bucket, when stored
	Regions int    `json:"regions,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// OutcomePrefix starts the names of outcomes in a results bucket.
const OutcomePrefix = "outcome/"

// OutcomeName is where job id's outcome goes in a results bucket.
func OutcomeName(id string) string { return OutcomePrefix + id }
