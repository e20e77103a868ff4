package detect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/platemask/platemask/models"
)

// Config chooses and parameterises detectors.
type Config struct {
	// Names lists detectors to run together: "platenet" (the shipped
	// model), "haar", "yunet", "none". Default: DefaultNames.
	Names []string
	// Margin, when non-negative, replaces every detector's calibrated
	// padding fraction (of the box height, on every side).
	Margin float64
	// Cascade is the Haar cascade file ("" finds the installed one).
	Cascade string
	// YuNetModel is an LPD-YuNet-format ONNX file, needed for "yunet".
	YuNetModel string
	// Network picks one of the opt-in shipped networks (models.Networks)
	// for "platenet"; "" is the default network.
	Network string
	// NetModel and NetManifest replace the shipped platenet model.
	NetModel, NetManifest string
}

// NetworkUsage explains --network to users of every command that detects.
var NetworkUsage = "shipped network for the platenet detector instead of the default: " +
	"fast (detects sooner, redacts more around plates), fences (cameras that look through a fence), " +
	"mirror (the default's weights looking again at every region mirrored, where the default looks again only at " +
	"large ones it is unsure of: takes about a third longer, redacts a little less away from plates, misses more small ones) or wide (the previous default, about a fifth slower; see models/README.md)"

// DefaultNames is the default detector: the shipped model alone. Adding the
// Haar cascade (platenet,haar) finds no more of the 759 labelled plates, at
// about five times the time and more area destroyed; users who want it can
// ask for it.
var DefaultNames = []string{"platenet"}

// Known lists the detector names New accepts.
var Known = []string{"platenet", "haar", "yunet", "none"}

// NewDefaultConfig returns the default configuration.
func NewDefaultConfig() Config {
	return Config{Names: DefaultNames, Margin: -1}
}

// Validate checks names and files before any model is loaded. Its errors
// name the command-line flags that set each field, which every command
// shares.
func (c Config) Validate() error {
	if len(c.Names) == 0 {
		return fmt.Errorf("--detector: none chosen (one of %s)", strings.Join(Known, ", "))
	}
	if c.Network != "" || c.NetModel != "" {
		if !slices.Contains(c.Names, "platenet") {
			return fmt.Errorf("--network and --net-model choose platenet's weights, but --detector leaves platenet out")
		}
	}
	if c.Network != "" {
		if !slices.Contains(models.Networks, c.Network) {
			return fmt.Errorf("--network: unknown network %q (one of %s)", c.Network, strings.Join(models.Networks, ", "))
		}
		if c.NetModel != "" {
			return fmt.Errorf("--network and --net-model together: choose one")
		}
	}
	for _, n := range c.Names {
		switch n {
		case "platenet", "haar", "none":
		case "yunet":
			if c.YuNetModel == "" {
				return fmt.Errorf("--detector yunet needs a model file (--model)")
			}
		default:
			return fmt.Errorf("--detector: unknown detector %q (one of %s)", n, strings.Join(Known, ", "))
		}
	}
	return nil
}

func (c Config) padding(p Padding) Padding {
	if c.Margin >= 0 {
		p.Frac = c.Margin
	}
	return p
}

// New builds the detector c describes, or nil for "none". Each call loads its own copy, as one
// detector must not be used from two goroutines at once.
func New(c Config) (Detector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var ds []Detector
	fail := func(err error) (Detector, error) {
		for _, d := range ds {
			d.Close()
		}
		return nil, err
	}
	for _, n := range c.Names {
		var d Detector
		var err error
		switch n {
		case "none":
			continue
		case "haar":
			d, err = NewHaar(c.Cascade, c.padding(HaarPadding))
		case "yunet":
			d, err = NewYuNet(c.YuNetModel, c.padding(YuNetPadding))
		case "platenet":
			var onnx []byte
			var m models.Manifest
			if c.NetModel != "" {
				onnx, m, err = models.Load(c.NetModel, c.NetManifest)
			} else {
				onnx, m, err = models.Shipped(c.Network)
			}
			if err != nil {
				return fail(err)
			}
			d, err = NewNet(onnx, m, c.padding(NetPadding(m)))
		}
		if err != nil {
			return fail(err)
		}
		ds = append(ds, d)
	}
	switch len(ds) {
	case 0:
		return nil, nil // "none": manual and static regions only
	case 1:
		return ds[0], nil
	}
	return NewEnsemble(ds...), nil
}
