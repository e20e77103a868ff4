package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/platemask/platemask/audit"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/internal/storetest"
	"github.com/platemask/platemask/store"
	"github.com/platemask/platemask/synth"
)

func TestAuditOutput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := store.Open(ctx, dir, store.Config{})
	img, _, _ := synth.Scene(1, 160, 120, 0)
	clean, _ := synth.EncodeJPEG(img, 80)
	s.Put(ctx, "kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", clean, "image/jpeg")
	s.Put(ctx, "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg", synth.WithMetadata(clean, synth.Metadata{Comment: "AB12CDE"}), "image/jpeg")

	tests := []struct {
		name  string
		o     Options
		check func(t *testing.T, out string)
	}{
		{"tsv", Options{}, func(t *testing.T, out string) {
			want := "object\t20241230152519495_N74DYX_VEHICLE_DETECTION.jpg\tname:plate,name:time,meta:comment\n"
			if out != want {
				t.Errorf("got %q, want %q", out, want)
			}
		}},
		{"table", Options{}, func(t *testing.T, out string) {
			if !strings.Contains(out, "OBJECT") || !strings.Contains(out, "name holds plate, time; metadata comment") {
				t.Errorf("table: %q", out)
			}
		}},
		{"json", Options{JSON: true}, func(t *testing.T, out string) {
			var rep audit.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Scanned != 2 || rep.WithLeaks != 1 || rep.Counts["meta:comment"] != 1 {
				t.Errorf("report %+v", rep)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			o := tt.o
			o.IO = &cmdutil.IOStreams{Out: &out, ErrOut: &errOut, OutTTY: tt.name == "table"}
			o.URL, o.Workers, o.MaxBytes = dir, 2, 1<<20
			err := Run(ctx, &o)
			if cmdutil.ExitCode(err) != cmdutil.ExitFailed {
				t.Errorf("exit %d (%v), want 1", cmdutil.ExitCode(err), err)
			}
			tt.check(t, out.String())
			if strings.Contains(out.String()+errOut.String(), "AB12CDE") {
				t.Error("audit printed metadata content")
			}
		})
	}
}

func TestAuditExposure(t *testing.T) {
	ctx := context.Background()
	az := storetest.Azurite(t)
	az.Container(t, "open")
	cfg := az.Config()
	s, _ := store.Open(ctx, "az://"+storetest.AzuriteAccount+"/open", cfg)
	img, _, _ := synth.Scene(1, 160, 120, 0)
	clean, _ := synth.EncodeJPEG(img, 80)
	s.Put(ctx, "kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", clean, "image/jpeg")
	run := func() (string, error) {
		var out bytes.Buffer
		err := Run(ctx, &Options{IO: &cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}, URL: "az://" + storetest.AzuriteAccount + "/open",
			Workers: 1, MaxBytes: 1 << 20, Store: &cfg})
		return out.String(), err
	}
	if out, err := run(); err != nil {
		t.Fatalf("private container with a clean image: %v\n%s", err, out)
	}
	cc := az.Client().ServiceClient().NewContainerClient("open")
	if _, err := cc.SetAccessPolicy(ctx, &container.SetAccessPolicyOptions{Access: to.Ptr(container.PublicAccessTypeBlob)}); err != nil {
		t.Fatal(err)
	}
	out, err := run()
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(out, "store\tpublic-access") || !strings.Contains(out, "anonymous-read") {
		t.Errorf("public container: %v\n%s", err, out)
	}
}
