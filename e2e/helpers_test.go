package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/platemask/platemask/command"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
	"github.com/platemask/platemask/redact"
	"github.com/platemask/platemask/synth"
)

// envWorker switches the test binary into a `platemask worker` process:
// the test re-executes itself rather than building the CLI.
const envWorker = "PLATEMASK_E2E_WORKER_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(envWorker); args != "" {
		os.Exit(command.Execute(cmdutil.System(), strings.Split(args, "\x1f")))
	}
	os.Exit(m.Run())
}

var ring = brokertest.Ring(7)

// keyEnv hands the test ring to child processes the way an operator
// would: through the environment.
func keyEnv() []string {
	k := ring.Current()
	return []string{keys.EnvKeyID + "=" + k.ID,
		keys.EnvHMAC + "=" + base64.StdEncoding.EncodeToString(k.HMAC),
		keys.EnvSeal + "=" + base64.StdEncoding.EncodeToString(k.Seal)}
}

// proc is a child process with its output kept for failure reports.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
	end chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t *testing.T, name string, env []string, path string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(path, args...), out: &syncBuffer{}, end: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.end <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.end:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.end
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out)
		}
	})
	return p
}

// startWorker runs `platemask worker` as its own process.
func startWorker(t *testing.T, name, url, out string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"worker", "--nats", url, "--out", out, "--workers", "2", "--ack-wait", "2s",
		"--no-plate", "keep"}, extra...)
	return startCLI(t, name, args...)
}

// startCLI runs a platemask command as its own process, with the test
// keys in its environment.
func startCLI(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	env := append(keyEnv(), envWorker+"="+strings.Join(args, "\x1f"))
	return startProc(t, name, env, os.Args[0], "-test.run=^$")
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.end
	p.end <- nil // for Cleanup
}

type input struct {
	name, camera string
	data         []byte
}

func inputs(t testing.TB, n int) []input {
	t.Helper()
	r := rand.New(rand.NewSource(9))
	var out []input
	for i := range n {
		img, plates, err := synth.Scene(int64(1000+i), 480, 320, 1)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := synth.EncodeJPEG(img, 85)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, input{name: filepath.Base(synth.CameraName(r, i, plates[0].Text)), camera: "gate-1",
			data: synth.WithMetadata(raw, synth.All(1, nil))})
	}
	return out
}

// submit queues every input, retrying while the broker is away.
func submit(t *testing.T, q *queue.Queue, ins []input) {
	t.Helper()
	for _, in := range ins {
		brokertest.Eventually(t, time.Minute, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := q.Submit(ctx, queue.Image{Data: in.data, Source: in.name, Camera: in.camera})
			return err
		})
	}
}

// expected are the output names the inputs must produce: one each.
func expected(ins []input) []string {
	var names []string
	for _, in := range ins {
		names = append(names, redact.OutputName(ring.Current().HMAC, in.camera, in.name, in.data))
	}
	sort.Strings(names)
	return names
}

func outputs(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	return names
}

// waitOutputs waits until at least n outputs exist.
func waitOutputs(t *testing.T, dir string, n int, total time.Duration) {
	t.Helper()
	brokertest.Eventually(t, total, func() error {
		if got := len(outputs(dir)); got < n {
			return fmt.Errorf("%d of %d outputs", got, n)
		}
		return nil
	})
}

// checkDone waits for the queue to empty and checks every input came out
// exactly once, with its record, and nothing went to dead letters.
func checkDone(t *testing.T, q *queue.Queue, out string, ins []input, total time.Duration) {
	t.Helper()
	want := expected(ins)
	brokertest.Eventually(t, total, func() error {
		got := outputs(out)
		if len(got) < len(want) {
			return fmt.Errorf("%d of %d outputs", len(got), len(want))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pending, inFlight, err := q.Depth(ctx)
		if err != nil || pending+inFlight > 0 {
			return fmt.Errorf("%d pending, %d in flight (%v)", pending, inFlight, err)
		}
		return nil
	})
	got := outputs(out)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%d outputs, want exactly the %d expected names", len(got), len(want))
	}
	for _, g := range got {
		if _, err := os.Stat(filepath.Join(out, strings.TrimSuffix(g, ".jpg")+".json")); err != nil {
			t.Errorf("output without record: %v", err)
		}
	}
	// Listing reads the dead-letter stream through a new consumer; right
	// after a node loss that can time out while leaders settle, so only a
	// listing that succeeds counts.
	var dead int
	brokertest.Eventually(t, time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		held, err := q.Held(ctx, true)
		dead = len(held)
		return err
	})
	if dead > 0 {
		t.Errorf("%d dead letters", dead)
	}
}
