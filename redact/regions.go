package redact

import (
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"io"
	"strconv"
	"strings"
)

// ReadRegions reads manual regions as CSV rows image,x,y,w,h (a header row
// is optional), keyed by the image's base name.
func ReadRegions(r io.Reader) (map[string][]image.Rectangle, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	out := map[string][]image.Rectangle{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("regions: %w", err)
		}
		var v [4]int
		bad := false
		for i := range v {
			n, err := strconv.Atoi(strings.TrimSpace(rec[i+1]))
			if err != nil {
				bad = true
				break
			}
			v[i] = n
		}
		if bad {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("regions line %d: x,y,w,h must be integers", line)
		}
		if v[2] <= 0 || v[3] <= 0 {
			return nil, fmt.Errorf("regions line %d: width and height must be positive", line)
		}
		out[rec[0]] = append(out[rec[0]], image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]))
	}
}
