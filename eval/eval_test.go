package eval

import (
	"image"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestScore(t *testing.T) {
	b := image.Rect(0, 0, 100, 100)
	plate := image.Rect(10, 10, 30, 20) // 200 px
	tests := []struct {
		name    string
		regions []image.Rectangle
		found   int
		away    float64
	}{
		{"exact", []image.Rectangle{plate}, 1, 0},
		{"padded", []image.Rectangle{image.Rect(5, 5, 35, 25)}, 1, (600.0 - 200) / 10000},
		{"half", []image.Rectangle{image.Rect(10, 10, 20, 20)}, 0, 0},
		{"90 percent", []image.Rectangle{image.Rect(12, 10, 30, 20)}, 0, 0},
		{"95 percent", []image.Rectangle{image.Rect(11, 10, 30, 20)}, 1, 0},
		{"two halves", []image.Rectangle{image.Rect(10, 10, 20, 20), image.Rect(20, 10, 30, 20)}, 1, 0},
		{"elsewhere", []image.Rectangle{image.Rect(50, 50, 60, 60)}, 0, 0.01},
		{"none", nil, 0, 0},
	}
	for _, tt := range tests {
		s := Score(b, tt.regions, []image.Rectangle{plate}, DefaultCoverage)
		if s.Found != tt.found || math.Abs(s.AwayFrac-tt.away) > 1e-9 {
			t.Errorf("%s: found %d away %v, want %d %v", tt.name, s.Found, s.AwayFrac, tt.found, tt.away)
		}
	}
}

// Each plate not found is listed with its box as labelled (not clipped to
// the image) and the share of it that was covered.
func TestScoreListsMisses(t *testing.T) {
	b := image.Rect(0, 0, 100, 100)
	plates := []image.Rectangle{
		image.Rect(10, 10, 30, 20),   // found
		image.Rect(50, 50, 70, 60),   // half covered
		image.Rect(90, 90, 110, 100), // half outside the image, uncovered
		image.Rect(200, 0, 210, 5),   // wholly outside
	}
	regions := []image.Rectangle{image.Rect(10, 10, 30, 20), image.Rect(50, 50, 60, 60)}
	s := Score(b, regions, plates, DefaultCoverage)
	want := []Miss{
		{X: 50, Y: 50, W: 20, H: 10, Covered: 0.5},
		{X: 90, Y: 90, W: 20, H: 10},
		{X: 200, Y: 0, W: 10, H: 5},
	}
	if s.Found != 1 || !reflect.DeepEqual(s.Missed, want) {
		t.Errorf("found %d, missed %+v; want 1, %+v", s.Found, s.Missed, want)
	}
}

func TestReportAndPrefix(t *testing.T) {
	r := NewReport("x")
	r.Add("oa-eu-1.jpg", ImageScore{Plates: 1, Found: 1, Regions: 1, Seconds: 0.01})
	r.Add("oa-eu-2.jpg", ImageScore{Plates: 1, Found: 0, Regions: 0, Seconds: 0.03, Missed: []Miss{{X: 1, W: 2, H: 3}}})
	r.Add("ro-a_b.jpg", ImageScore{Plates: 2, Found: 2, Regions: 2, AwayFrac: 0.02, Seconds: 0.02})
	if got := strings.Join(r.Prefixes(), ","); got != "oa-eu,ro" {
		t.Errorf("prefixes %s", got)
	}
	o := r.Overall
	if o.Plates != 4 || o.Found != 3 || o.Recall != 0.75 || o.Quarantined != 1 || math.Abs(o.MsPerImage-20) > 1e-9 {
		t.Errorf("overall %+v", o)
	}
	if eu := r.ByPrefix["oa-eu"]; eu.Recall != 0.5 || eu.Quarantined != 1 {
		t.Errorf("oa-eu %+v", eu)
	}
	if want := []Miss{{Image: "oa-eu-2.jpg", X: 1, W: 2, H: 3}}; !reflect.DeepEqual(r.Missed, want) {
		t.Errorf("missed %+v, want %+v", r.Missed, want)
	}
}

func TestReadLabels(t *testing.T) {
	l, err := ReadLabels(strings.NewReader("image,x,y,w,h\na.jpg,1,2,3,4\na.jpg,5,6,7,8\nb.jpg,0,0,1,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l["a.jpg"]) != 2 || l["a.jpg"][1] != image.Rect(5, 6, 12, 14) || len(l["b.jpg"]) != 1 {
		t.Errorf("labels %v", l)
	}
	if _, err := ReadLabels(strings.NewReader("a.jpg,1,2,3\n")); err == nil {
		t.Error("short row accepted")
	}
}
