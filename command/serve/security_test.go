package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/serve"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/redact"
)

func looseKeyFile(t *testing.T) string {
	t.Helper()
	for _, k := range []string{keys.EnvHMAC, keys.EnvSeal, keys.EnvKeyID} {
		t.Setenv(k, "")
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if _, err := keys.Load(path, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeAndWorkerRefuseWorldReadableKeyFile: serve and worker stop
// before they start a broker, connect to one or listen, when the key
// file is readable by others.
func TestServeAndWorkerRefuseWorldReadableKeyFile(t *testing.T) {
	key := looseKeyFile(t)
	var stderr bytes.Buffer
	o := options(t, nil, &cmdutil.IOStreams{Out: io.Discard, ErrOut: &stderr})
	o.Data, o.Listen, o.BrokerPort, o.Workers = filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", -1, 1
	o.Redact.KeyFile = key
	if err := serve.Run(context.Background(), o); !errors.Is(err, keys.ErrLoosePermissions) {
		t.Errorf("serve: %v, want %v", err, keys.ErrLoosePermissions)
	}
	if _, err := os.Stat(filepath.Join(o.Data, "broker")); err == nil {
		t.Error("serve started its broker before checking the key file")
	}
	var out, errOut bytes.Buffer
	code := command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut},
		[]string{"worker", "--nats", "nats://127.0.0.1:1", "--out", t.TempDir(), "--keys", key})
	if code == cmdutil.ExitOK || !strings.Contains(errOut.String(), "chmod 600") {
		t.Errorf("worker: exit %d, stderr %s", code, errOut.String())
	}
}

// TestWorkerNeedsExistingKeys: a worker given a key file that does not
// exist (a typo, a machine set up without it) stops with the reason and
// makes no new keys, which could open none of the queue's jobs.
func TestWorkerNeedsExistingKeys(t *testing.T) {
	for _, k := range []string{keys.EnvHMAC, keys.EnvSeal, keys.EnvKeyID} {
		t.Setenv(k, "")
	}
	missing := filepath.Join(t.TempDir(), "typo-keys.json")
	var out, errOut bytes.Buffer
	code := command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut},
		[]string{"worker", "--nats", "nats://127.0.0.1:1", "--out", t.TempDir(), "--keys", missing})
	if code == cmdutil.ExitOK || !strings.Contains(errOut.String(), "no key file") {
		t.Errorf("worker: exit %d, stderr %s", code, errOut.String())
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("worker created a key file: %v", err)
	}
}

// TestCameraTokenCannotRedactAsAnotherCamera: gate-1's token posts images
// that claim gate-2 every way a request can (query, headers, names, form
// fields); each output's record carries gate-1's pseudonymous label.
func TestCameraTokenCannotRedactAsAnotherCamera(t *testing.T) {
	r := startServe(t, 1, func(o *serve.Options) { o.Redact.NoPlate = "keep"; o.NoInbox = true })
	ins := inputs(t, 3)
	for i, in := range ins {
		url := r.addrs.HTTP + "/v1/images?camera=gate-2&camera_id=gate-2&name=gate-2_" + filepath.Base(in.name)
		req, _ := http.NewRequest("POST", url, bytes.NewReader(in.data))
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("Content-Type", "image/jpeg")
		req.Header.Set("X-Camera", "gate-2")
		req.Header.Set("Content-Disposition", `attachment; filename="../gate-2/`+filepath.Base(in.name)+`"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("image %d: status %d", i, resp.StatusCode)
		}
	}
	outputs, _ := waitAll(t, r.queue(t), r.out, len(ins), 2*time.Minute)
	ring, err := keys.Load(r.keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := redact.CameraLabel(ring.Current().HMAC, "gate-1")
	for _, o := range outputs {
		raw, err := os.ReadFile(strings.TrimSuffix(o, ".jpg") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var rec redact.Record
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Camera != want {
			t.Errorf("record camera %q, want gate-1's label %q (gate-2's is %q)", rec.Camera, want,
				redact.CameraLabel(ring.Current().HMAC, "gate-2"))
		}
	}
}
