package redact_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/jpeginfo"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/synth"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = command.Execute(&cmdutil.IOStreams{Out: &out, ErrOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRedactFolder runs the command over a folder of good, bad and
// plate-less images and checks every promise of the output contract.
func TestRedactFolder(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	var regions strings.Builder
	regions.WriteString("image,x,y,w,h\n")
	goodNames := []string{
		"20241230152519495_N74DYX_VEHICLE_DETECTION.jpg",
		"cams/192.168.0.64_01_20190319093422939_MOTION_DETECTION.JPEG",
		"CAM01/2023/09/18/20230918-111800_CAM01_AB12CDE.jpg",
	}
	var thumb []byte
	for i, name := range goodNames {
		img, plates, err := synth.Scene(int64(i), 480, 320, 1)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := synth.EncodeJPEG(img, 90)
		if err != nil {
			t.Fatal(err)
		}
		if thumb == nil {
			thumb = raw
		}
		write(t, filepath.Join(in, name), synth.WithMetadata(raw, synth.All(1+i, thumb)))
		r := plates[0].Rect
		fmt.Fprintf(&regions, "%s,%d,%d,%d,%d\n", filepath.Base(name), r.Min.X-4, r.Min.Y-4, r.Dx()+8, r.Dy()+8)
	}
	// One good image with no regions listed: nothing found, so quarantined.
	write(t, filepath.Join(in, "20241230160000000_ZZ99ZZZ_VEHICLE_DETECTION.jpg"), thumb)
	bad := synth.BadInputs(thumb)
	for _, b := range bad {
		write(t, filepath.Join(in, "bad", b.Name+".jpg"), b.Data)
	}
	write(t, filepath.Join(in, "notes.txt"), []byte("not an image, not a .jpg: skipped"))
	// A row for an image that is not among the inputs: counted, not named.
	regions.WriteString("20241230170000000_GH05TYY_VEHICLE_DETECTION.jpg,1,1,10,10\n")
	write(t, filepath.Join(dir, "regions.csv"), []byte(regions.String()))

	manifest := filepath.Join(dir, "manifest.csv")
	code, _, stderr := run(t, "redact", "--out", out, "--manifest", manifest, "--no-detect",
		"--regions", filepath.Join(dir, "regions.csv"), "--keys", filepath.Join(dir, "keys.json"), "--workers", "2", in)
	if code != cmdutil.ExitFailed {
		t.Errorf("exit %d, want %d (bad inputs failed); stderr:\n%s", code, cmdutil.ExitFailed, stderr)
	}
	for _, leak := range []string{"N74DYX", "20241230", "192.168", "AB12CDE", "bad/", "GH05TYY"} {
		if strings.Contains(stderr, leak) {
			t.Errorf("stderr mentions %q:\n%s", leak, stderr)
		}
	}
	if !strings.Contains(stderr, "1 image names in --regions match no input") {
		t.Errorf("stderr does not warn of the unmatched --regions row:\n%s", stderr)
	}

	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "input,output,status,regions" {
		t.Errorf("header %v", rows[0])
	}
	status := map[string]int{}
	for _, row := range rows[1:] {
		status[row[2]]++
		switch {
		case strings.Contains(row[0], "/bad/"):
			if row[2] != "failed" || row[1] != "" {
				t.Errorf("bad input row %v", row)
			}
		case strings.Contains(row[0], "ZZ99ZZZ"):
			if row[2] != "quarantined" || row[1] != "" {
				t.Errorf("plate-less row %v", row)
			}
		default:
			if row[2] != "redacted" || row[3] != "1" {
				t.Errorf("good row %v", row)
			}
		}
	}
	if status["redacted"] != 3 || status["quarantined"] != 1 || status["failed"] != len(bad) {
		t.Errorf("statuses %v", status)
	}

	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Errorf("%d files in --out, want 3 images and 3 records", len(entries))
	}
	for _, e := range entries {
		name := e.Name()
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		// Written as serve's folder sink writes them: for others to read.
		st, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want -rw-r--r--", name, st.Mode())
		}
		switch filepath.Ext(name) {
		case ".jpg":
			info, err := jpeginfo.Scan(data)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(info.Metadata()) != 0 || info.Trailing != 0 {
				t.Errorf("%s keeps metadata %v or trailer %d", name, info.Metadata(), info.Trailing)
			}
			// Orientation 6 and 8 swap sides; the rest keep 480x320.
			if !(info.Width == 480 && info.Height == 320) && !(info.Width == 320 && info.Height == 480) {
				t.Errorf("%s is %dx%d", name, info.Width, info.Height)
			}
		case ".json":
			var rec redact.Record
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rec.Regions != 1 || rec.Image != strings.TrimSuffix(name, ".json")+".jpg" {
				t.Errorf("record %+v", rec)
			}
			for _, leak := range []string{"192.168", "N74DYX", "AB12CDE", "CAM01", "15:25"} {
				if bytes.Contains(data, []byte(leak)) {
					t.Errorf("record %s holds %q", name, leak)
				}
			}
		default:
			t.Errorf("unexpected file %s in --out", name)
		}
	}
}

func TestRedactUsageErrors(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	write(t, filepath.Join(in, "a.jpg"), []byte("not checked before the flags"))
	tests := [][]string{
		{"redact", "--out", out, "--method", "smudge", in},
		{"redact", in},
		{"redact", "--out", out},
		{"redact", "--out", out, "--no-detect", in},
		{"redact", "--out", out, "--detector", "magic", in},
		{"redact", "--out", out, "--network", "fastest", in},
		{"redact", "--out", out, "--network", "fast", "--net-model", "x.onnx", "--net-manifest", "x.json", in},
		{"redact", "--out", out, "--bogus-flag", in},
		{"redact", "--out", out, filepath.Join(dir, "missing")},
		{"redact", "--out", filepath.Join(in, "redacted"), in}, // outputs would be inputs next time
	}
	keyFile := filepath.Join(dir, "k.json")
	for _, args := range tests {
		code, _, stderr := run(t, append(args, "--keys", keyFile)...)
		if code != cmdutil.ExitUsage || !strings.HasPrefix(stderr, "platemask: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		// A mistake on the command line leaves nothing behind.
		for _, p := range []string{keyFile, out, filepath.Join(in, "redacted")} {
			if _, err := os.Stat(p); err == nil {
				t.Fatalf("%v left %s behind", args, p)
			}
		}
	}
}

// TestRedactNetwork: --network runs the opt-in network built into the
// binary, and the record names it.
func TestRedactNetwork(t *testing.T) {
	dir := t.TempDir()
	img, _, err := synth.Scene(3, 960, 540, 1)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in", "gate.jpg")
	write(t, in, raw)
	for network, want := range map[string]string{"": "platenet", "fast": "platenet-fast", "fences": "platenet-fences", "wide": "platenet-wide"} {
		out := filepath.Join(dir, "out-"+network)
		args := []string{"redact", "--out", out, "--keys", filepath.Join(dir, "k.json"), "--no-plate", "keep", in}
		if network != "" {
			args = append(args, "--network", network)
		}
		if code, _, stderr := run(t, args...); code != cmdutil.ExitOK {
			t.Fatalf("--network %q: exit %d, stderr %q", network, code, stderr)
		}
		records, err := filepath.Glob(filepath.Join(out, "*.json"))
		if err != nil || len(records) != 1 {
			t.Fatalf("--network %q: records %v, %v", network, records, err)
		}
		data, err := os.ReadFile(records[0])
		if err != nil {
			t.Fatal(err)
		}
		var rec redact.Record
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Detector != want || len(rec.Models) != 1 || !strings.HasPrefix(rec.Models[0], want+"-") {
			t.Errorf("--network %q: detector %q models %v, want %s", network, rec.Detector, rec.Models, want)
		}
	}
}
