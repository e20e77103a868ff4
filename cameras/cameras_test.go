package cameras

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", DefaultFile)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := r.Add(Camera{ID: "gate-1", Site: "north", Masks: []image.Rectangle{image.Rect(0, 0, 200, 30)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(Camera{ID: "gate-1"}); !errors.Is(err, ErrExists) {
		t.Errorf("second add: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), tok) || !strings.Contains(string(raw), hashToken(tok)) {
		t.Error("registry stores the token, or not its hash")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("registry mode %v", st.Mode().Perm())
	}
	// Another process (a second Registry) sees the change.
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, ok, err := other.Authenticate(tok)
	if err != nil || !ok || c.ID != "gate-1" || c.Site != "north" || len(c.Masks) != 1 {
		t.Fatalf("authenticate: %+v %v", c, ok)
	}
	for _, bad := range []string{"", tok + "x", strings.ToUpper(tok)} {
		if _, ok, err := other.Authenticate(bad); ok || err != nil {
			t.Errorf("token %q accepted", bad)
		}
	}
	if err := r.Update(Camera{ID: "gate-1", Pattern: `^(?P<time>\d{14})$`, Network: "fences"}); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := other.ByID("gate-1"); err != nil || !ok || c.Network != "fences" {
		t.Errorf("network not kept: %+v", c)
	}
	if err := r.Update(Camera{ID: "gate-1", Network: "fastest"}); err == nil {
		t.Error("accepted a network that is not shipped")
	}
	if n := other.Parser("gate-1").Parse("20240101101010.jpg"); n.Time.IsZero() {
		t.Error("camera pattern not used")
	}
	if _, err := r.Add(Camera{ID: "bad id/.."}); err == nil {
		t.Error("accepted an id with a slash")
	}
	if _, err := r.Add(Camera{ID: "gate-2", Pattern: `(?P<owner>x)`}); err == nil {
		t.Error("accepted a bad pattern")
	}
	if err := r.Remove("gate-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := other.Authenticate(tok); ok || err != nil {
		t.Errorf("token works after rm (%v)", err)
	}
	if err := r.Remove("gate-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second rm: %v", err)
	}
}

func TestParseRect(t *testing.T) {
	tests := map[string]bool{"0,0,10,20": true, "1, 2, 3, 4": true, "0,0,0,5": false, "-1,0,3,3": false, "a,b": false}
	for in, ok := range tests {
		if _, err := ParseRect(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}
