// Package models holds the plate detectors the project trains and ships
// (platenet.onnx, and the opt-in networks in fast/, fences/ and wide/), their
// manifests, and in train/ the code that produced them.
package models

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

// Manifest describes a heat-map plate model: how to feed it, how to read
// it, and what it measured on validation data.
type Manifest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Opset   int    `json:"opset"`
	Input   struct {
		Name     string  `json:"name"`
		MaxSide  int     `json:"max_side"`
		Multiple int     `json:"multiple"`
		Scale    float64 `json:"scale"`
	} `json:"input"`
	Output struct {
		Name   string `json:"name"`
		Stride int    `json:"stride"`
	} `json:"output"`
	Threshold float64 `json:"threshold"`
	// SplitStep, when above 0, relabels a component too large to be one
	// plate at thresholds this much higher, level by level (see
	// detect.plateComponents).
	SplitStep float64 `json:"split_step"`
	// Core shrinks each detected box to its cells at or above Core times
	// the box's peak, so a weak glow around a plate is not redacted.
	Core float64 `json:"core,omitempty"`
	// Grow, with Core, takes back the cells around the core: those at or
	// above Threshold within Grow times the core's height of it.
	Grow float64 `json:"grow,omitempty"`
	// Parts, with Core, gives each connected part of the core cells its
	// own box (kept when its own peak reaches MinPeak), so a plate joined
	// to a lamp by a faint glow does not take the box spanning both.
	Parts bool `json:"parts,omitempty"`
	// Mirror runs the model again, around each component, on the image
	// mirrored left to right, and keeps the lower of the two heat maps
	// (see detect.Net), so what reads as a plate only one way round drops.
	Mirror bool `json:"mirror,omitempty"`
	// MirrorBelow, with Mirror, looks again only at the components that
	// peak below it and are at least MirrorMinHeight cells high: where the
	// first pass is unsure and a plate is large enough to read. Only the
	// cells inside their boxes take the lower value; every other cell
	// keeps its heat. At 0 every component is looked at again, and cells
	// outside the crops become zero.
	MirrorBelow     float64 `json:"mirror_below,omitempty"`
	MirrorMinHeight int     `json:"mirror_min_height,omitempty"`
	// MinPeak drops components whose strongest cell is below it.
	MinPeak    float64         `json:"min_peak,omitempty"`
	Margin     float64         `json:"margin"`
	MarginPx   int             `json:"margin_px"`
	Training   json.RawMessage `json:"training,omitempty"`
	Validation json.RawMessage `json:"validation,omitempty"`
}

// Validate reports a manifest the detector cannot run with.
func (m Manifest) Validate() error {
	switch {
	case m.Input.MaxSide < 32 || m.Input.Multiple <= 0 || m.Input.Scale <= 0:
		return fmt.Errorf("model %q: bad input spec %+v", m.Name, m.Input)
	case m.Output.Stride <= 0 || m.Input.Multiple%m.Output.Stride != 0:
		return fmt.Errorf("model %q: bad output stride %d", m.Name, m.Output.Stride)
	case m.Threshold <= 0 || m.Threshold >= 1:
		return fmt.Errorf("model %q: threshold %v outside (0,1)", m.Name, m.Threshold)
	case m.Core < 0 || m.Core >= 1 || m.MinPeak < 0 || m.MinPeak >= 1 || m.SplitStep < 0 || m.SplitStep >= 1:
		return fmt.Errorf("model %q: core %v, min_peak %v or split_step %v outside [0,1)", m.Name, m.Core, m.MinPeak, m.SplitStep)
	case m.Grow < 0 || m.Grow > 16:
		return fmt.Errorf("model %q: grow %v outside [0,16]", m.Name, m.Grow)
	case m.Parts && m.Grow > 0:
		return fmt.Errorf("model %q: parts and grow %v together; grow takes one box per component", m.Name, m.Grow)
	case m.MirrorBelow < 0 || m.MirrorMinHeight < 0 || (!m.Mirror && (m.MirrorBelow > 0 || m.MirrorMinHeight > 0)):
		return fmt.Errorf("model %q: mirror_below %v and mirror_min_height %v need mirror, and neither below 0", m.Name, m.MirrorBelow, m.MirrorMinHeight)
	}
	return nil
}

// Label names the model for records: name, version and a short hash.
func (m Manifest) Label() string {
	h := m.SHA256
	if len(h) > 12 {
		h = h[:12]
	}
	return fmt.Sprintf("%s-%s@%s", m.Name, m.Version, h)
}

//go:embed platenet.onnx platenet.json fast/platenet.onnx fast/platenet.json fences/platenet.onnx fences/platenet.json wide/platenet.onnx wide/platenet.json mirror/platenet.json
var shipped embed.FS

// Networks names the opt-in shipped networks (see models/README.md);
// the default has no name. "fast" detects in about two thirds of the
// time and redacts more around plates; "fences" is for cameras that look
// through a fence; "mirror" is the default's weights with the mirrored
// pass on every component (the default gates it), redacting a little less
// away from plates for about a third more time;
// "wide" is the previous default, about a fifth slower, for those who want
// it back.
var Networks = []string{"fast", "fences", "mirror", "wide"}

// Default returns the shipped model and its manifest.
func Default() ([]byte, Manifest, error) { return Shipped("") }

// Shipped returns the shipped network of that name (one of Networks, or
// "" for the default) and its manifest.
func Shipped(name string) ([]byte, Manifest, error) {
	var m Manifest
	dir := "."
	if name != "" {
		if !slices.Contains(Networks, name) {
			return nil, m, fmt.Errorf("no shipped network %q (one of %s)", name, strings.Join(Networks, ", "))
		}
		dir = name
	}
	raw, err := shipped.ReadFile(path.Join(dir, "platenet.json"))
	if err != nil {
		return nil, m, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, m, fmt.Errorf("read %s manifest: %w", path.Join(dir, "platenet.json"), err)
	}
	// A manifest names its weights relative to itself: mirror/ shares the
	// default's.
	onnx, err := shipped.ReadFile(path.Join(dir, m.File))
	if err != nil {
		return nil, m, err
	}
	return onnx, m, nil
}

// Load reads a model and its manifest from files, for users who train
// their own.
func Load(onnxPath, manifestPath string) ([]byte, Manifest, error) {
	var m Manifest
	if manifestPath == "" {
		return nil, m, errors.New("a heat-map model needs its manifest (--manifest)")
	}
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, m, fmt.Errorf("parse manifest %s: %w", manifestPath, err)
	}
	onnx, err := os.ReadFile(onnxPath)
	if err != nil {
		return nil, m, fmt.Errorf("read model: %w", err)
	}
	return onnx, m, nil
}
