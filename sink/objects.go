package sink

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/platemask/platemask/redact"
)

// Objects writes outputs into a JetStream object store bucket.
type Objects struct {
	Store jetstream.ObjectStore
}

// ObjectsConfig describes the bucket.
type ObjectsConfig struct {
	Bucket   string
	Replicas int
	TTL      time.Duration // 0: kept until deleted
}

// NewObjects opens the bucket, creating it if missing.
func NewObjects(ctx context.Context, js jetstream.JetStream, c ObjectsConfig) (*Objects, error) {
	st, err := js.ObjectStore(ctx, c.Bucket)
	if err == nil {
		return &Objects{Store: st}, nil
	}
	st, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: c.Bucket, Description: "platemask redacted images and records",
		TTL: c.TTL, Storage: jetstream.FileStorage, Replicas: max(1, c.Replicas),
	})
	if err != nil {
		return nil, fmt.Errorf("output bucket: %w", err)
	}
	return &Objects{Store: st}, nil
}

// Put stores the image, then the record. Putting an existing name replaces
// it, so a re-run leaves one object.
func (o *Objects) Put(ctx context.Context, rec redact.Record, image []byte) error {
	meta, err := marshal(rec)
	if err != nil {
		return err
	}
	head := jetstream.ObjectMeta{Name: rec.Image, Headers: map[string][]string{"Content-Type": {"image/jpeg"}}}
	if _, err := o.Store.Put(ctx, head, bytes.NewReader(image)); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	head = jetstream.ObjectMeta{Name: RecordName(rec.Image), Headers: map[string][]string{"Content-Type": {"application/json"}}}
	if _, err := o.Store.Put(ctx, head, bytes.NewReader(meta)); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}
