package queue_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/queue"
)

// TestServerSyncAlways checks that the option reaches the broker, and that
// a job submitted under it survives a restart of the broker.
func TestServerSyncAlways(t *testing.T) {
	for _, sync := range []bool{false, true} {
		dir := t.TempDir()
		srv, err := queue.StartServer(queue.ServerConfig{DataDir: dir, Port: -1, SyncAlways: sync})
		if err != nil {
			t.Fatal(err)
		}
		if got := srv.JetStreamConfig().SyncAlways; got != sync {
			srv.Stop()
			t.Fatalf("SyncAlways %v: broker runs with %v", sync, got)
		}
		if !sync {
			srv.Stop()
			continue
		}
		ring := brokertest.Ring(1)
		q := brokertest.Open(t, srv.URL(), ring, brokertest.Config())
		ctx := context.Background()
		if _, err := q.Submit(ctx, queue.Image{Data: []byte("jpeg bytes"), Source: "a.jpg", Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		srv = brokertest.StartIn(t, dir, -1)
		q = brokertest.Open(t, srv.URL(), ring, brokertest.Config())
		n := 0
		if err := q.Pending(ctx, func(queue.JobInfo) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("after a restart %d jobs queued, want 1", n)
		}
	}
}

// TestServerPortTaken: a client port in use is reported at once, not after
// the broker's readiness wait, and the data folder is not locked by it.
func TestServerPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	start := time.Now()
	_, err = queue.StartServer(queue.ServerConfig{DataDir: dir, Port: port})
	if !errors.Is(err, queue.ErrPortTaken) {
		t.Fatalf("err = %v, want ErrPortTaken", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to report the port in use", d)
	}
	srv, err := queue.StartServer(queue.ServerConfig{DataDir: dir, Port: -1})
	if err != nil {
		t.Fatalf("data folder unusable after the refusal: %v", err)
	}
	srv.Stop()
}
