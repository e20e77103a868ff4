package synth

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"time"
)

// CameraName returns a camera-style file name (with folders for the
// Vivotek style) in one of the formats ANPR cameras write, cycling by i.
func CameraName(r *rand.Rand, i int, plate string) string {
	t := time.Date(2024, 12, 1+r.Intn(28), r.Intn(24), r.Intn(60), r.Intn(60), r.Intn(1000)*1e6, time.UTC)
	compact := []rune{}
	for _, c := range plate {
		if c != ' ' {
			compact = append(compact, c)
		}
	}
	p := string(compact)
	switch i % 3 {
	case 0:
		return fmt.Sprintf("%s%03d_%s_VEHICLE_DETECTION.jpg", t.Format("20060102150405"), t.Nanosecond()/1e6, p)
	case 1:
		return fmt.Sprintf("192.168.0.%d_01_%s%03d_MOTION_DETECTION.jpg", 60+r.Intn(10), t.Format("20060102150405"), t.Nanosecond()/1e6)
	default:
		cam := fmt.Sprintf("CAM%02d", 1+r.Intn(4))
		return filepath.Join(cam, t.Format("2006/01/02"), fmt.Sprintf("%s_%s_%s.jpg", t.Format("20060102-150405"), cam, p))
	}
}
