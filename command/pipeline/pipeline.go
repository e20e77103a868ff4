// Package pipeline holds the flags the commands that run the pipeline
// share: the broker flags (serve, worker, reprocess), the redaction flags
// (redact, reprocess, serve, worker), and building a processor per worker
// from them, so that every command reads them the same way.
package pipeline

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/platemask/platemask/codec"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/detect"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
)

// DefaultDataDir holds serve's state when --data is not given.
const DefaultDataDir = "platemask-data"

// EnvNATSPassword supplies the broker password without a flag (flags show
// in process lists).
const EnvNATSPassword = "PLATEMASK_NATS_PASSWORD"

// BrokerFlags say which broker to use and how the queue is set up.
type BrokerFlags struct {
	URLs      string
	User      string
	Password  string
	NKeyFile  string
	CredsFile string
	CAFile    string
	CertFile  string
	KeyFile   string
	Replicas  int
	AckWait   time.Duration
}

// Register adds the flags.
func (b *BrokerFlags) Register(f *pflag.FlagSet) {
	b.RegisterConnect(f)
	f.IntVar(&b.Replicas, "replicas", 1, "replicas of streams and buckets (3 on a cluster)")
	f.DurationVar(&b.AckWait, "ack-wait", 30*time.Second, "how long a job may go without a worker heartbeat before it is redelivered")
}

// RegisterConnect adds only the flags that say how to reach the broker,
// for tools that attach to a queue others set up.
func (b *BrokerFlags) RegisterConnect(f *pflag.FlagSet) {
	f.StringVar(&b.URLs, "nats", "", "external NATS server or cluster URL(s), comma-separated")
	f.StringVar(&b.User, "nats-user", "", "broker user (password from $"+EnvNATSPassword+")")
	f.StringVar(&b.NKeyFile, "nats-nkey", "", "file holding an NKey seed for the broker")
	f.StringVar(&b.CredsFile, "nats-creds", "", "broker credentials (JWT creds) file")
	f.StringVar(&b.CAFile, "nats-ca", "", "CA bundle (PEM) to verify the broker's TLS certificate")
	f.StringVar(&b.CertFile, "nats-cert", "", "TLS client certificate for the broker")
	f.StringVar(&b.KeyFile, "nats-key", "", "TLS client key for the broker")
}

// Connect dials the broker at url (the external one when --nats is set).
func (b *BrokerFlags) Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	pw := b.Password
	if pw == "" {
		pw = os.Getenv(EnvNATSPassword)
	}
	return queue.Connect(queue.ConnectConfig{URLs: url, User: b.User, Password: pw, NKeyFile: b.NKeyFile,
		CredsFile: b.CredsFile, CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile, Name: name, Logger: log})
}

// QueueConfig is the queue configuration the flags ask for.
func (b *BrokerFlags) QueueConfig() (queue.Config, error) {
	c := queue.NewDefaultConfig()
	c.Replicas, c.AckWait = b.Replicas, b.AckWait
	if err := c.Validate(); err != nil {
		return c, cmdutil.UsageError("%w", err)
	}
	return c, nil
}

// RedactFlags choose detectors and policy.
type RedactFlags struct {
	Detectors   string
	Method      string
	Margin      float64
	Model       string
	Network     string
	NetModel    string
	NetManifest string
	Cascade     string
	NoPlate     string
	TimeBucket  string
	KeyFile     string
	Quality     int
	MaxBytes    int64
	MaxPixels   int64

	// KeysMustExist, set by commands that open jobs others sealed (worker,
	// reprocess --nats), makes a missing key file an error: new keys there
	// would open no job, and every job would go to dead letters.
	KeysMustExist bool
}

// Register adds the flags.
func (r *RedactFlags) Register(f *pflag.FlagSet) {
	lim := codec.DefaultLimits()
	f.StringVar(&r.Detectors, "detector", strings.Join(detect.DefaultNames, ","), "detectors to run together: "+strings.Join(detect.Known, ", "))
	f.StringVar(&r.Method, "method", "blur", "how to destroy a region: blur or fill (both use only surrounding pixels)")
	f.Float64Var(&r.Margin, "margin", -1, "padding around each detection as a fraction of its height (-1: each detector's calibrated padding)")
	f.StringVar(&r.Model, "model", "", "LPD-YuNet-format ONNX model for the yunet detector")
	f.StringVar(&r.Network, "network", "", detect.NetworkUsage)
	f.StringVar(&r.NetModel, "net-model", "", "replace the shipped platenet model with this ONNX file")
	f.StringVar(&r.NetManifest, "net-manifest", "", "manifest of --net-model")
	f.StringVar(&r.Cascade, "cascade", "", "Haar cascade file (default: opencv-data's Russian plate cascade)")
	f.StringVar(&r.NoPlate, "no-plate", "quarantine", "when no plate is found: quarantine (never stored as if clean) or keep")
	f.StringVar(&r.TimeBucket, "time-bucket", "day", "time kept in records from file names: none, day or hour")
	f.StringVar(&r.KeyFile, "keys", "", "key file (default "+keys.DefaultPath()+"; or set "+keys.EnvHMAC+" and "+keys.EnvSeal+")")
	f.IntVar(&r.Quality, "quality", 0, redact.QualityUsage)
	f.Int64Var(&r.MaxBytes, "max-bytes", lim.MaxBytes, "refuse images larger than this many bytes")
	f.Int64Var(&r.MaxPixels, "max-pixels", lim.MaxPixels, "refuse images with more pixels than this")
}

// Limits are the input limits the flags ask for.
func (r *RedactFlags) Limits() (codec.Limits, error) {
	lim := codec.Limits{MaxBytes: r.MaxBytes, MaxPixels: r.MaxPixels, MaxSide: codec.DefaultLimits().MaxSide}
	if err := lim.Validate(); err != nil {
		return lim, cmdutil.UsageError("%w", err)
	}
	return lim, nil
}

// Setup checks the flags, then loads the key ring (creating it on first
// use, with a notice, unless KeysMustExist), and returns it with a
// constructor of one Processor (with its own detector) per worker. The
// checks come first so that a mistyped flag never leaves a new key file
// behind.
func (r *RedactFlags) Setup(notice io.Writer) (*keys.Ring, func() (*redact.Processor, error), error) {
	build, err := r.processors()
	if err != nil {
		return nil, nil, err
	}
	load := keys.Load
	if r.KeysMustExist {
		load = func(path string, _ io.Writer) (*keys.Ring, error) { return keys.Open(path) }
	}
	ring, err := load(r.KeyFile, notice)
	if err != nil {
		return nil, nil, err
	}
	return ring, func() (*redact.Processor, error) { return build(ring) }, nil
}

func (r *RedactFlags) processors() (func(*keys.Ring) (*redact.Processor, error), error) {
	method, err := redact.ParseMethod(r.Method)
	if err != nil {
		return nil, cmdutil.UsageError("--method: %w", err)
	}
	noPlate, err := redact.ParseNoPlate(r.NoPlate)
	if err != nil {
		return nil, cmdutil.UsageError("--no-plate: %w", err)
	}
	bucket, err := redact.ParseTimeBucket(r.TimeBucket)
	if err != nil {
		return nil, cmdutil.UsageError("--time-bucket: %w", err)
	}
	if err := redact.CheckQuality(r.Quality); err != nil {
		return nil, cmdutil.UsageError("--quality: %w", err)
	}
	lim, err := r.Limits()
	if err != nil {
		return nil, err
	}
	dc := detect.NewDefaultConfig()
	var names []string
	for _, n := range strings.FieldsFunc(r.Detectors, func(c rune) bool { return c == ',' || c == '+' }) {
		names = append(names, strings.TrimSpace(n))
	}
	if len(names) > 0 {
		dc.Names = names
	}
	dc.Margin = r.Margin
	dc.Cascade, dc.YuNetModel = r.Cascade, r.Model
	dc.Network, dc.NetModel, dc.NetManifest = r.Network, r.NetModel, r.NetManifest
	if err := dc.Validate(); err != nil {
		return nil, cmdutil.UsageError("%w", err)
	}
	// Workers run side by side: one OpenCV thread each.
	detect.SetThreads(1)
	policy := redact.Policy{Method: method, TimeBucket: bucket, NoPlate: noPlate}
	if r.Margin >= 0 {
		m := r.Margin
		policy.Margin = &m
	}
	// A camera set to an opt-in network (cameras set --network) gets it
	// in place of the platenet network chosen here.
	newNetwork := func(network string) (detect.Detector, error) {
		c := dc
		if slices.Contains(c.Names, "platenet") { // else the workers run no network to replace
			c.Network, c.NetModel, c.NetManifest = network, "", ""
		}
		return detect.New(c)
	}
	return func(ring *keys.Ring) (*redact.Processor, error) {
		d, err := detect.New(dc)
		if err != nil {
			return nil, err
		}
		var versions []string
		if d != nil {
			versions = detect.Versions(d)
		}
		return &redact.Processor{Limits: lim, Detector: d, Models: versions, NewNetwork: newNetwork,
			Keys: ring, Policy: policy, Quality: r.Quality}, nil
	}, nil
}

// Logger writes text logs to w.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
