package queue

import (
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
}

// Message is the job message on SubjectJobs. In the clear it holds only
// an opaque id and an object name derived from it.
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

// Meta is what a worker needs besides the pixels.
type Meta struct {
	Camera string            `json:"camera,omitempty"`
	Source string            `json:"source,omitempty"`
	Time   time.Time         `json:"time,omitzero"`
	Static []image.Rectangle `json:"static,omitempty"`
	// Manual are regions an operator gave when releasing the job from
	// quarantine; they are redacted as given.
	Manual []image.Rectangle `json:"manual,omitempty"`
	// Review is set when an operator released the job: ReviewRegions or
	// ReviewNoPlate.
	Review string `json:"review,omitempty"`
}

// What an operator decided about a quarantined job.
const (
	ReviewRegions = "operator-regions"
	ReviewNoPlate = "operator-no-plate"
)

// ParseMessage reads a job message.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: not JSON", outcome.ErrBadMessage)
	}
	if m.V != 1 || m.ID == "" || len(m.Meta) == 0 || (len(m.Data) == 0) == (m.Object == "") {
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
