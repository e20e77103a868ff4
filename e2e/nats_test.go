package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/platemask/platemask/cameras"
	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/command/serve"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/queue"
)

var (
	natsOnce sync.Once
	natsBin  string
	natsErr  error
)

// natsServer builds the nats-server command from the module platemask
// depends on (so the version is the one go.mod pins).
func natsServer(t *testing.T) string {
	t.Helper()
	natsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "platemask-nats-server-")
		if err != nil {
			natsErr = err
			return
		}
		natsBin = filepath.Join(dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsErr = fmt.Errorf("build nats-server: %v\n%s", err, out)
		}
	})
	if natsErr != nil {
		t.Fatal(natsErr)
	}
	return natsBin
}

// node is one nats-server process.
type node struct {
	url string
	p   *proc
}

// startNodes runs n nats-server processes on loopback, clustered when n >
// 1, each with its own encrypted JetStream store.
func startNodes(t *testing.T, n int) []*node {
	t.Helper()
	bin := natsServer(t)
	dir := t.TempDir()
	clientPorts := make([]int, n)
	routePorts := make([]int, n)
	for i := range n {
		clientPorts[i], routePorts[i] = brokertest.FreePort(t), brokertest.FreePort(t)
	}
	var nodes []*node
	for i := range n {
		var conf strings.Builder
		fmt.Fprintf(&conf, "server_name: n%d\nlisten: 127.0.0.1:%d\n", i+1, clientPorts[i])
		fmt.Fprintf(&conf, "jetstream { store_dir: %q, key: \"e2e-test-store-key-0123456789abcdef\" }\n", filepath.Join(dir, fmt.Sprint("n", i+1)))
		if n > 1 {
			var routes []string
			for j := range n {
				if j != i {
					routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[j]))
				}
			}
			fmt.Fprintf(&conf, "cluster { name: pm, listen: 127.0.0.1:%d, routes: [%s] }\n", routePorts[i], strings.Join(routes, ", "))
		}
		path := filepath.Join(dir, fmt.Sprintf("n%d.conf", i+1))
		if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &node{url: fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]),
			p: startProc(t, fmt.Sprintf("nats-server n%d", i+1), nil, bin, "-c", path)})
	}
	for i, port := range clientPorts {
		brokertest.Eventually(t, 30*time.Second, func() error {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				return fmt.Errorf("node n%d: %w", i+1, err)
			}
			return c.Close()
		})
	}
	return nodes
}

func urls(nodes []*node) string {
	var u []string
	for _, n := range nodes {
		u = append(u, n.url)
	}
	return strings.Join(u, ",")
}

// runServe runs `platemask serve` in this process with args and returns
// its HTTP base URL and a camera token.
func runServe(t *testing.T, args ...string) (base, token string) {
	t.Helper()
	data := t.TempDir()
	reg, err := cameras.Open(filepath.Join(data, cameras.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	if token, err = reg.Add(cameras.Camera{ID: "gate-1"}); err != nil {
		t.Fatal(err)
	}
	for _, kv := range keyEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var logs syncBuffer
	io := &cmdutil.IOStreams{Out: io.Discard, ErrOut: &logs}
	var o *serve.Options
	c := serve.NewWithRun(io, func(opts *serve.Options) error { o = opts; return nil })
	c.SetArgs(append([]string{"--data", data, "--listen", "127.0.0.1:0", "--no-inbox", "--no-plate", "keep", "--ack-wait", "2s"}, args...))
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	started := make(chan serve.Addrs, 1)
	o.Started = func(a serve.Addrs) { started <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	select {
	case a := <-started:
		return a.HTTP, token
	case err := <-done:
		done <- err // for Cleanup
		t.Fatalf("serve: %v\n%s", err, logs.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve did not start\n%s", logs.String())
	}
	return "", ""
}

// upload posts each input, retrying what is not accepted as a camera
// would (while a cluster elects a new leader, say).
func upload(t *testing.T, base, token string, ins []input) {
	t.Helper()
	for _, in := range ins {
		brokertest.Eventually(t, time.Minute, func() error {
			req, _ := http.NewRequest("POST", base+"/v1/images?name="+in.name, bytes.NewReader(in.data))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "image/jpeg")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("status %d: %s", resp.StatusCode, b)
			}
			return nil
		})
	}
}

// TestExternalServer runs serve and a worker process against a separate
// nats-server process.
func TestExternalServer(t *testing.T) {
	const n = 200
	ins := inputs(t, n)
	nodes := startNodes(t, 1)
	out := filepath.Join(t.TempDir(), "out")
	base, token := runServe(t, "--nats", nodes[0].url, "--workers", "1", "--out", out)
	startWorker(t, "worker", nodes[0].url, out, "--workers", "1")
	upload(t, base, token, ins)
	q := brokertest.Open(t, nodes[0].url, ring, brokertest.Config())
	checkDone(t, q, out, ins, 3*time.Minute)
}

// TestClusterLosesNode runs serve and a worker process against a
// three-node cluster with R3 streams and kills one node mid-run.
func TestClusterLosesNode(t *testing.T) {
	const n = 200
	ins := inputs(t, n)
	nodes := startNodes(t, 3)
	out := filepath.Join(t.TempDir(), "out")
	base, token := runServe(t, "--nats", urls(nodes), "--replicas", "3", "--workers", "1", "--out", out)
	startWorker(t, "worker", urls(nodes), out, "--workers", "1", "--replicas", "3")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		upload(t, base, token, ins)
	}()
	qc := brokertest.Config()
	qc.Replicas = 3
	q := brokertest.Open(t, urls(nodes), ring, qc)
	waitOutputs(t, out, n/4, 3*time.Minute)
	// Kill the node that leads the jobs stream: the hardest one to lose.
	s, err := q.JetStream().Stream(context.Background(), queue.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	leader := s.CachedInfo().Cluster.Leader
	var victim int
	fmt.Sscanf(leader, "n%d", &victim)
	if victim < 1 || victim > 3 {
		t.Fatalf("stream leader %q", leader)
	}
	nodes[victim-1].p.kill(t)
	t.Logf("stream leader %s killed after %d outputs", leader, len(outputs(out)))
	wg.Wait()
	checkDone(t, q, out, ins, 3*time.Minute)
}
