// Package brokertest starts real embedded brokers for tests, one per test,
// and polls for conditions instead of sleeping.
package brokertest

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/platemask/platemask/keys"
	"github.com/platemask/platemask/queue"
)

// Start runs an embedded broker with its store under a temp dir on a free
// loopback port, shut down when the test ends.
func Start(t testing.TB) *queue.Server {
	t.Helper()
	return StartIn(t, t.TempDir(), -1)
}

// StartIn runs an embedded broker with its data under dir on port (-1:
// any); a test that restarts the broker passes the same dir and port.
func StartIn(t testing.TB, dir string, port int) *queue.Server {
	t.Helper()
	s, err := queue.StartServer(queue.ServerConfig{DataDir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Ring is a fixed test key ring.
func Ring(seed byte) *keys.Ring {
	k := keys.Key{ID: "test", HMAC: bytes.Repeat([]byte{seed}, 32), Seal: bytes.Repeat([]byte{seed + 1}, 32)}
	return &keys.Ring{Active: "test", Keys: []keys.Key{k}}
}

// Connect dials url, closing the connection when the test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := queue.Connect(queue.ConnectConfig{URLs: url, Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Config is a queue configuration with short timers for tests.
func Config() queue.Config {
	c := queue.NewDefaultConfig()
	c.AckWait = 2 * time.Second
	return c
}

// Open connects to url and opens the queue with cfg.
func Open(t testing.TB, url string, ring *keys.Ring, cfg queue.Config) *queue.Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := queue.Open(ctx, Connect(t, url), ring, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Eventually polls f every tick until it returns nil, failing the test
// with f's last error after total.
func Eventually(t testing.TB, total time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	tick := 20 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", total, err)
		}
		time.Sleep(tick)
		tick = min(2*tick, 250*time.Millisecond)
	}
}
