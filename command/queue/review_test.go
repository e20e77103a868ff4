package queue

import (
	"image"
	"strings"
	"testing"
	"time"
)

func TestReadRegions(t *testing.T) {
	tests := []struct {
		name, in string
		want     []image.Rectangle
		ok       bool
	}{
		{"rows", "1,2,3,4\n10,20,30,40\n", []image.Rectangle{image.Rect(1, 2, 4, 6), image.Rect(10, 20, 40, 60)}, true},
		{"header and comment", "x,y,w,h\n# reviewed\n1,2,3,4\n", []image.Rectangle{image.Rect(1, 2, 4, 6)}, true},
		{"image column", "image,x,y,w,h\njob1,1,2,3,4\njob1.jpg,5,6,7,8\n", []image.Rectangle{image.Rect(1, 2, 4, 6), image.Rect(5, 6, 12, 14)}, true},
		{"another image", "job1,1,2,3,4\njob2,1,2,3,4\n", nil, false},
		{"not integers", "1,2,3,4\na,b,c,d\n", nil, false},
		{"empty box", "1,2,0,4\n", nil, false},
		{"three fields", "1,2,3\n", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRegions(strings.NewReader(tt.in), "job1")
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%t", err, tt.ok)
			}
			if tt.ok && (len(got) != len(tt.want) || (len(got) > 0 && got[len(got)-1] != tt.want[len(tt.want)-1])) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {42 * time.Second, "42s"}, {3*time.Minute + 12*time.Second, "3m12s"},
		{5*time.Hour + 2*time.Minute, "5h02m"}, {76 * time.Hour, "3d04h"},
	}
	for _, tt := range tests {
		if got := age(tt.d); got != tt.want {
			t.Errorf("age(%s) = %s, want %s", tt.d, got, tt.want)
		}
	}
}
