// Package sink is where redacted images come to rest: a folder (the
// default) or a NATS object store bucket. Both write the image and its
// record under the record's opaque name, so a job that runs twice
// overwrites its own output and never makes a second one.
package sink

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/platemask/platemask/redact"
)

// Sink stores one redacted image with its record. Put returns only once
// both are durable: the worker acknowledges the job after it.
type Sink interface {
	Put(ctx context.Context, rec redact.Record, image []byte) error
}

// RecordName is the record's name beside image name (x.jpg -> x.json).
func RecordName(image string) string {
	return strings.TrimSuffix(image, ".jpg") + ".json"
}

func marshal(rec redact.Record) ([]byte, error) {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
