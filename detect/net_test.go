package detect_test

import (
	"reflect"
	"testing"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/internal/testenv"
	"github.com/platemask/platemask/models"
)

func scene(tb testing.TB, seed int64, w, h int) *codec.Image {
	tb.Helper()
	data, _ := testenv.SceneJPEG(tb, seed, w, h, 2, 90)
	im, err := codec.Decode(data, codec.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	return im
}

func shippedNet(tb testing.TB) *detect.Net {
	tb.Helper()
	onnx, m, err := models.Default()
	if err != nil {
		tb.Fatal(err)
	}
	n, err := detect.NewNet(onnx, m, detect.NetPadding(m))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestNetReusesInputSafely: a Net keeps its input buffers between calls;
// whatever came before, it must find exactly what a fresh Net finds.
func TestNetReusesInputSafely(t *testing.T) {
	sizes := [][2]int{{1920, 1080}, {640, 480}, {1920, 1080}, {1280, 720}, {1900, 1080}, {480, 640}}
	reused := shippedNet(t)
	defer reused.Close()
	for i, sz := range sizes {
		im := scene(t, int64(i), sz[0], sz[1])
		got, err := reused.Detect(im)
		if err != nil {
			t.Fatal(err)
		}
		fresh := shippedNet(t)
		want, err := fresh.Detect(im)
		fresh.Close()
		im.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatalf("%dx%d: the scene's plates were not found at all", sz[0], sz[1])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%dx%d after other sizes: %v, a fresh net finds %v", sz[0], sz[1], got, want)
		}
	}
}

// BenchmarkNetDetect is the shipped model on a 1080p frame, one thread:
// scaling, input, network and components.
func BenchmarkNetDetect(b *testing.B) {
	detect.SetThreads(1)
	n := shippedNet(b)
	defer n.Close()
	im := scene(b, 1, 1920, 1080)
	defer im.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.Detect(im); err != nil {
			b.Fatal(err)
		}
	}
}
