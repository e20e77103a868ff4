// Package samples is the `platemask samples` command: write a folder of
// generated camera images to try platemask on.
package samples

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"

	"github.com/disintegration/imaging"
	"github.com/spf13/cobra"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/synth"
)

// sensorSigma is the grain of the samples, in levels: a street camera's
// at night is more, a good one's by day less.
const sensorSigma = 6

// Options are the command's flags.
type Options struct {
	IO     *cmdutil.IOStreams
	Dir    string
	Count  int
	Seed   int64
	Width  int
	Height int
}

// New returns the cobra command.
func New(io *cmdutil.IOStreams) *cobra.Command {
	o := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "samples DIR",
		Short: "Write generated camera images to try platemask on",
		Long: `Write generated street scenes with plate-like text and a camera's sensor
grain, named as ANPR cameras name them (timestamps, plates, camera IPs) and
carrying EXIF with GPS and a thumbnail, XMP, a comment and bytes after the
image: everything platemask must remove. No real person's data is involved.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir = args[0]
			return Run(o)
		},
	}
	cmd.Flags().IntVar(&o.Count, "count", 12, "number of images")
	cmd.Flags().Int64Var(&o.Seed, "seed", 1, "random seed (the same seed gives the same images)")
	cmd.Flags().IntVar(&o.Width, "width", 1280, "image width")
	cmd.Flags().IntVar(&o.Height, "height", 720, "image height")
	return cmd
}

// Run writes the samples.
func Run(o *Options) error {
	if o.Count < 1 || o.Width < 64 || o.Height < 64 {
		return cmdutil.UsageError("--count must be positive and images at least 64x64")
	}
	r := rand.New(rand.NewSource(o.Seed))
	for i := 0; i < o.Count; i++ {
		data, plates, err := Image(o.Seed+int64(i), o.Width, o.Height, 1+i%3)
		if err != nil {
			return err
		}
		name := filepath.Join(o.Dir, synth.CameraName(r, i, plates[0].Text))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return fmt.Errorf("samples: %w", err)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return fmt.Errorf("samples: %w", err)
		}
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %d sample images to %s\n", o.Count, o.Dir)
	return nil
}

// Image renders one sample JPEG with n plates, a camera's sensor grain
// and full camera metadata.
func Image(seed int64, w, h, n int) ([]byte, []synth.Plate, error) {
	img, plates, err := synth.Scene(seed, w, h, n)
	if err != nil {
		return nil, nil, err
	}
	synth.SensorNoise(img, rand.New(rand.NewSource(seed)), sensorSigma)
	jpg, err := synth.EncodeJPEG(img, 90)
	if err != nil {
		return nil, nil, err
	}
	thumb, err := synth.EncodeJPEG(imaging.Resize(img, 160, 0, imaging.Box), 70)
	if err != nil {
		return nil, nil, err
	}
	return synth.WithMetadata(jpg, synth.All(1, thumb)), plates, nil
}
