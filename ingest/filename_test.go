package ingest

import (
	"reflect"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		path    string
		pattern string
		camera  string
		time    string
		plate   string
		found   []string
	}{
		{path: "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg",
			time: "2024-12-30 15:25:19.495", plate: "N74DYX", found: []string{"plate", "time"}},
		{path: "192.168.0.64_01_20190319093422939_MOTION_DETECTION.jpg",
			camera: "192.168.0.64_01", time: "2019-03-19 09:34:22.939", found: []string{"ip", "time"}},
		{path: "192.168.0.64_01_20241230152519495_N74DYX_VEHICLE_DETECTION.jpg",
			camera: "192.168.0.64_01", time: "2024-12-30 15:25:19.495", plate: "N74DYX", found: []string{"ip", "plate", "time"}},
		{path: "CAM01/2023/09/18/20230918-111800_CAM01_AB12CDE.jpg",
			camera: "CAM01", time: "2023-09-18 11:18:00", plate: "AB12CDE", found: []string{"camera", "plate", "time"}},
		{path: "site7/lane2/gate-ab12cde-20240101T101010.jpg", pattern: `^gate-(?P<plate>[a-z0-9]+)-(?P<time>\d{8}T\d{6})$`,
			time: "2024-01-01 10:10:10", plate: "AB12CDE", found: []string{"plate", "time"}},
		{path: "00-11-22-33-44-55_snapshot.jpg", found: []string{"mac"}},
		{path: "holiday.jpg"},
		{path: "kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg"},
	}
	for _, tt := range tests {
		p, err := NewParser(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		n := p.Parse(tt.path)
		gotTime := ""
		if !n.Time.IsZero() {
			gotTime = n.Time.Format("2006-01-02 15:04:05.999")
		}
		if n.Camera != tt.camera || gotTime != tt.time || n.Plate != tt.plate {
			t.Errorf("%s: camera %q time %q plate %q", tt.path, n.Camera, gotTime, n.Plate)
		}
		if len(n.Found) == 0 {
			n.Found = nil
		}
		if !reflect.DeepEqual(n.Found, tt.found) {
			t.Errorf("%s: found %v, want %v", tt.path, n.Found, tt.found)
		}
	}
}

func TestNewParserRejects(t *testing.T) {
	for _, p := range []string{`(?P<camera>[`, `(?P<owner>\w+)`} {
		if _, err := NewParser(p); err == nil {
			t.Errorf("pattern %q accepted", p)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := map[string]string{
		"20241230152519495": "2024-12-30T15:25:19.495Z",
		"20241230152519":    "2024-12-30T15:25:19Z",
		"20230918-111800":   "2023-09-18T11:18:00Z",
		"2023-09-18T11-18":  "2023-09-18T11:18:00Z",
	}
	for in, want := range tests {
		got, err := ParseTime(in)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseTime("2024"); err == nil {
		t.Error("accepted a 4-digit time")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"20241230152519495_N74DYX_VEHICLE_DETECTION.jpg",
		"192.168.0.64_01_20190319093422939_MOTION_DETECTION.jpg",
		"CAM01/2023/09/18/20230918-111800_CAM01_AB12CDE.jpg",
		"", "_", "..", "99999999999999999_x_Y.jpg",
	} {
		f.Add(s)
	}
	p, err := NewParser("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n := p.Parse(name)
		if !n.Time.IsZero() && n.Time.Year() < 1000 {
			t.Errorf("implausible time %v", n.Time)
		}
	})
}
