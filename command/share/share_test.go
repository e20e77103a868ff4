package share

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/internal/storetest"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
)

func TestShare(t *testing.T) {
	ctx := context.Background()
	s3 := storetest.S3(t)
	s3.Bucket(t, "clean")
	az := storetest.Azurite(t)
	az.Container(t, "clean")
	cfg := s3.Config()
	cfg.Azure = az.Config().Azure

	img, _, err := synth.Scene(1, 160, 120, 0)
	if err != nil {
		t.Fatal(err)
	}
	clean, _ := synth.EncodeJPEG(img, 80)
	withMeta := synth.WithMetadata(clean, synth.Metadata{Comment: "x"})
	const name = "kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg"

	for _, base := range []string{"s3://clean/out", "az://" + storetest.AzuriteAccount + "/clean/out"} {
		s, err := store.Open(ctx, base, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Put(ctx, name, clean, "image/jpeg")
		s.Put(ctx, "meta"+name[4:], withMeta, "image/jpeg")
		s.Put(ctx, "20241230152519495_N74DYX.jpg", clean, "image/jpeg")

		tests := []struct {
			name     string
			url      string
			ttl, max time.Duration
			code     int
		}{
			{"ok", base + "/" + name, time.Hour, 0, cmdutil.ExitOK},
			{"over the default cap", base + "/" + name, 25 * time.Hour, 0, cmdutil.ExitUsage},
			{"cap over 7 days", base + "/" + name, time.Hour, 8 * 24 * time.Hour, cmdutil.ExitUsage},
			{"ttl under a raised cap", base + "/" + name, 48 * time.Hour, 72 * time.Hour, cmdutil.ExitOK},
			{"identifying name", base + "/20241230152519495_N74DYX.jpg", time.Hour, 0, cmdutil.ExitFailed},
			{"metadata", base + "/meta" + name[4:], time.Hour, 0, cmdutil.ExitFailed},
			{"missing", base + "/aaaaaaaaaaaaaaaaaaaaaaaaaa.jpg", time.Hour, 0, cmdutil.ExitFailed},
		}
		for _, tt := range tests {
			t.Run(base[:2]+"/"+tt.name, func(t *testing.T) {
				var out, errOut bytes.Buffer
				maxTTL := tt.max
				if maxTTL == 0 {
					maxTTL = DefaultMaxTTL
				}
				err := Run(ctx, &Options{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, URL: tt.url, TTL: tt.ttl, MaxTTL: maxTTL, Store: &cfg})
				if got := cmdutil.ExitCode(err); got != tt.code {
					t.Fatalf("exit %d (%v), want %d", got, err, tt.code)
				}
				if err != nil && strings.Contains(err.Error(), "N74DYX") {
					t.Errorf("error message holds the name: %v", err)
				}
				if tt.code != cmdutil.ExitOK {
					return
				}
				link := strings.TrimSpace(out.String())
				resp, err := http.Get(link)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Equal(body, clean) {
					t.Errorf("GET link: %d, %d bytes", resp.StatusCode, len(body))
				}
			})
		}
	}
	// A folder cannot share.
	dir := t.TempDir()
	f, _ := store.Open(ctx, dir, store.Config{})
	f.Put(ctx, name, clean, "image/jpeg")
	var out bytes.Buffer
	err = Run(ctx, &Options{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &out}, URL: dir + "/" + name, TTL: time.Hour, MaxTTL: DefaultMaxTTL})
	if !errors.Is(err, store.ErrNoShare) {
		t.Errorf("folder share: %v", err)
	}
}
