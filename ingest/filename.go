// Package ingest is where images enter platemask: the camera file-name
// parser and the walker over input folders (and, with the pipeline, the
// HTTP endpoint and drop folder).
package ingest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Name is what a camera file name reveals. Only what policy keeps (the
// camera id, a coarse time bucket) travels further, and never in a name.
type Name struct {
	Camera string
	Time   time.Time // zero when the name holds no time
	Plate  string
	// Found lists the kinds of identifiers seen ("time", "plate", "ip",
	// "mac", "serial", "camera"), for audit and tests.
	Found []string
}

// Known camera naming schemes, most specific first.
var builtins = []*regexp.Regexp{
	// 192.168.0.64_01_20190319093422939_MOTION_DETECTION.jpg (Hikvision, IP camera)
	regexp.MustCompile(`^(?P<camera>\d{1,3}(?:\.\d{1,3}){3}_\d{1,3})_(?P<time>\d{14,17})_(?:(?P<plate>[A-Za-z]*\d[A-Za-z0-9]*)_)?[A-Z][A-Z_]*$`),
	// 20241230152519495_N74DYX_VEHICLE_DETECTION.jpg (Hikvision ANPR)
	regexp.MustCompile(`^(?P<time>\d{14,17})_(?P<plate>[A-Za-z]*\d[A-Za-z0-9]*)_[A-Z][A-Z_]*$`),
	// 20230918-111800_CAM01_AB12CDE.jpg (Vivotek-style, in CAM01/2023/09/18/)
	regexp.MustCompile(`^(?P<time>\d{8}-\d{6})_(?P<camera>[A-Za-z0-9]+)_(?P<plate>[A-Za-z0-9]{2,10})$`),
}

// Parser reads camera file names: a user pattern first, then the built-in
// schemes.
type Parser struct {
	patterns []*regexp.Regexp
}

// NewParser accepts an optional regular expression with named groups
// camera, time and plate (any of them), matched against the base name
// without extension.
func NewParser(pattern string) (*Parser, error) {
	p := &Parser{}
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("file-name pattern: %w", err)
		}
		known := map[string]bool{"camera": true, "time": true, "plate": true, "": true}
		for _, n := range re.SubexpNames() {
			if !known[n] {
				return nil, fmt.Errorf("file-name pattern: unknown group %q (use camera, time, plate)", n)
			}
		}
		p.patterns = append(p.patterns, re)
	}
	p.patterns = append(p.patterns, builtins...)
	return p, nil
}

// Parse reads path (a file name, possibly with folders).
func (p *Parser) Parse(path string) Name {
	base := filepath.Base(path)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	var n Name
	for _, re := range p.patterns {
		m := re.FindStringSubmatch(stem)
		if m == nil {
			continue
		}
		for i, g := range re.SubexpNames() {
			switch g {
			case "camera":
				n.Camera = m[i]
			case "plate":
				n.Plate = strings.ToUpper(m[i])
			case "time":
				n.Time, _ = ParseTime(m[i])
			}
		}
		break
	}
	if n.Camera == "" {
		n.Camera = cameraFromDirs(path)
	}
	n.Found = Identifiers(path)
	return n
}

var cameraDir = regexp.MustCompile(`^(?i:cam(?:era)?[-_]?\d+)$`)

// cameraFromDirs finds a CAM01-style folder in the path.
func cameraFromDirs(path string) string {
	dir := filepath.Dir(filepath.ToSlash(path))
	parts := strings.Split(dir, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if cameraDir.MatchString(parts[i]) {
			return parts[i]
		}
	}
	return ""
}

// ParseTime reads the timestamp forms cameras write: 20060102150405 with
// optional milliseconds, 20060102-150405, 2006-01-02T15-04-05. Years
// before 1970 are refused: digits that parse as year 0 are not a capture
// time (found by FuzzParse).
func ParseTime(s string) (time.Time, error) {
	t, err := parseTime(s)
	if err == nil && t.Year() < 1970 {
		return time.Time{}, fmt.Errorf("timestamp: year %d out of range", t.Year())
	}
	return t, err
}

func parseTime(s string) (time.Time, error) {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	switch len(digits) {
	case 14, 15, 16, 17:
		t, err := time.Parse("20060102150405", digits[:14])
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp: %w", err)
		}
		if ms := digits[14:]; ms != "" {
			var v int
			fmt.Sscanf(ms, "%d", &v)
			for i := len(ms); i < 3; i++ {
				v *= 10
			}
			t = t.Add(time.Duration(v) * time.Millisecond)
		}
		return t, nil
	case 12:
		return time.Parse("200601021504", digits)
	case 8:
		return time.Parse("20060102", digits)
	}
	return time.Time{}, fmt.Errorf("timestamp: unrecognised form")
}
