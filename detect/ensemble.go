package detect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/platemask/platemask/codec"
)

// Ensemble runs several detectors and keeps every region any of them finds:
// for privacy, a plate found by one is a plate.
type Ensemble struct {
	members []Detector
}

// NewEnsemble combines detectors; it owns and closes them.
func NewEnsemble(ds ...Detector) *Ensemble { return &Ensemble{members: ds} }

func (e *Ensemble) Name() string {
	names := make([]string, len(e.members))
	for i, d := range e.members {
		names[i] = d.Name()
	}
	return strings.Join(names, "+")
}

// MaxSide is the largest of its members', 0 if any needs every pixel.
func (e *Ensemble) MaxSide() int {
	side := 0
	for _, d := range e.members {
		s := MaxSide(d)
		if s == 0 {
			return 0
		}
		side = max(side, s)
	}
	return side
}

func (e *Ensemble) Detect(im *codec.Image) ([]Region, error) {
	var all []Region
	for _, d := range e.members {
		rs, err := d.Detect(im)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name(), err)
		}
		all = append(all, rs...)
	}
	return all, nil
}

func (e *Ensemble) Close() error {
	var errs []error
	for _, d := range e.members {
		errs = append(errs, d.Close())
	}
	return errors.Join(errs...)
}

// Versions lists the models behind d (name, version and hash), for records.
func Versions(d Detector) []string {
	switch d := d.(type) {
	case *Net:
		return []string{d.m.Label()}
	case *Ensemble:
		var out []string
		for _, m := range d.members {
			out = append(out, Versions(m)...)
		}
		return out
	case *Haar:
		return []string{"haar:" + d.file}
	case *YuNet:
		return []string{"yunet:" + d.file}
	}
	return nil
}
