package reprocess_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"path"
	"path/filepath"
	"strings"
	"testing"

	auditcmd "github.com/platemask/platemask/command/audit"
	"github.com/platemask/platemask/command/cmdutil"
	reprocesscmd "github.com/platemask/platemask/command/reprocess"
	"github.com/platemask/platemask/internal/storetest"
	"github.com/platemask/platemask/reprocess"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
)

// TestDefaultDetectors runs a handful of full-size images with plates
// through the real default detectors, from S3 to Azure: each is redacted
// or quarantined sealed, and the sink audits clean.
func TestDefaultDetectors(t *testing.T) {
	ctx := context.Background()
	s3 := storetest.S3(t)
	az := storetest.Azurite(t)
	s3.Bucket(t, "raw")
	az.Container(t, "clean")
	e := newEnv(t, s3, az)
	src, _ := store.Open(ctx, "s3://raw", e.cfg)
	to := "az://" + storetest.AzuriteAccount + "/clean"
	sink, _ := store.Open(ctx, to, e.cfg)
	r := rand.New(rand.NewSource(3))
	originals := map[string][]byte{}
	for i := 0; i < 6; i++ {
		plates := 2
		if i == 5 {
			plates = 0 // nothing to find: quarantined
		}
		img, _, err := synth.Scene(int64(200+i), 640, 360, plates)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := synth.EncodeJPEG(img, 90)
		key := filepath.ToSlash(synth.CameraName(r, i, synth.PlateText(r)))
		originals[key] = data
		if err := src.Put(ctx, key, data, "image/jpeg"); err != nil {
			t.Fatal(err)
		}
	}
	o := e.opts(&cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, "s3://raw", to)
	var out bytes.Buffer
	o.IO.Out = &out
	o.Detectors, o.NoPlate, o.MaxBytes = "platenet,haar", "quarantine", 32<<20
	if err := reprocesscmd.Run(ctx, o); err != nil {
		t.Fatalf("reprocess: %v\n%s", err, o.IO.ErrOut)
	}
	var sum reprocesscmd.Summary
	json.Unmarshal(out.Bytes(), &sum)
	if sum.Redacted+sum.Quarantined != 6 || sum.Redacted == 0 {
		t.Fatalf("summary %+v", sum)
	}
	// Quarantined images are sealed and open with the keys.
	opened := 0
	sink.List(ctx, "", func(obj store.Object) error {
		if !strings.HasPrefix(obj.Key, reprocess.QuarantinePrefix) {
			return nil
		}
		sealed, _ := sink.Get(ctx, obj.Key, 1<<20)
		plain, err := e.ring.Open(sealed, reprocess.QuarantineAAD)
		if err != nil {
			t.Errorf("quarantined object does not open: %v", err)
			return nil
		}
		for _, orig := range originals {
			if bytes.Equal(plain, orig) {
				opened++
			}
		}
		return nil
	})
	if int64(opened) != sum.Quarantined {
		t.Errorf("opened %d quarantined images, summary says %d", opened, sum.Quarantined)
	}
	var aout, aerr bytes.Buffer
	err := auditcmd.Run(ctx, &auditcmd.Options{IO: &cmdutil.IOStreams{Out: &aout, ErrOut: &aerr}, URL: to,
		Detect: true, Detectors: "haar", Workers: 2, MaxBytes: 32 << 20, Store: &e.cfg})
	if err != nil {
		t.Errorf("audit of the sink: %v\n%s%s", err, aout.String(), aerr.String())
	}
	aout.Reset()
	err = auditcmd.Run(ctx, &auditcmd.Options{IO: &cmdutil.IOStreams{Out: &aout, ErrOut: &aerr}, URL: "s3://raw",
		Detect: true, Detectors: "haar", Workers: 2, MaxBytes: 32 << 20, Store: &e.cfg, JSON: true})
	if !errors.Is(err, cmdutil.Failed) || !strings.Contains(aout.String(), `"plate"`) {
		t.Errorf("audit of the source found no plate: %v\n%s", err, aout.String())
	}
	if strings.Contains(aerr.String()+aout.String(), "PMS1") {
		t.Error("audit printed content")
	}
}

// TestDeleteSource: with --delete-source every redacted source object is
// gone once its output is in the sink; failed ones stay.
func TestDeleteSource(t *testing.T) {
	ctx := context.Background()
	s3 := storetest.S3(t)
	az := storetest.Azurite(t)
	e := newEnv(t, s3, az)
	from, to := filepath.Join(t.TempDir(), "raw"), filepath.Join(t.TempDir(), "clean")
	src, _ := store.Open(ctx, from, e.cfg)
	good, bad := archive(t, src, 120)
	o := e.opts(&cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, from, to)
	o.DeleteSource = true
	if err := reprocesscmd.Run(ctx, o); !errors.Is(err, cmdutil.Failed) {
		t.Fatalf("reprocess: %v", err)
	}
	var left []string
	src.List(ctx, "", func(obj store.Object) error { left = append(left, obj.Key); return nil })
	if len(left) != len(bad)+1 { // the bad images and README.txt
		t.Errorf("%d objects left in the source, want %d", len(left), len(bad)+1)
	}
	sink, _ := store.Open(ctx, to, e.cfg)
	imgs, _, _ := list(t, sink)
	if len(imgs) != len(good) {
		t.Errorf("sink holds %d images, want %d", len(imgs), len(good))
	}
	for _, k := range left {
		if path.Ext(k) == ".jpg" && !contains(bad, k) {
			t.Errorf("a redacted source object was kept")
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestUsage(t *testing.T) {
	e := &reprocesscmd.Options{IO: &cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}}
	dir := t.TempDir()
	for _, tt := range []struct{ from, to string }{
		{"", dir},
		{dir, dir + "/clean"},
		{dir + "/raw", dir},
		{"ftp://x", dir},
	} {
		e.From, e.To = tt.from, tt.to
		e.Store = &store.Config{}
		if err := reprocesscmd.Run(context.Background(), e); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("--from %q --to %q: %v", tt.from, tt.to, err)
		}
	}
}
