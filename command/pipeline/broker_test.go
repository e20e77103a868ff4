package pipeline_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/platemask/platemask/command/pipeline"
	"github.com/platemask/platemask/internal/brokertest"
	"github.com/platemask/platemask/queue"
)

// runServer starts an embedded nats-server with opts, shut down when the
// test ends.
func runServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// flags parses a command line into the broker flags, as serve and worker
// do.
func flags(t *testing.T, args ...string) *pipeline.BrokerFlags {
	t.Helper()
	var b pipeline.BrokerFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	b.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &b
}

// certs writes a fresh CA and a server certificate for 127.0.0.1 signed by
// it, and returns the CA file and the server's key pair.
func certs(t *testing.T, dir string) (caFile string, pair tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "platemask test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: srvKey}
}

// TestBrokerOverTLSWithNatsCA runs a TLS-only broker with a certificate
// from a CA made here. With --nats-ca the product connects, sets up the
// queue and moves a job through it; without it, with another CA, or
// asking for plain nats://, it refuses to connect.
func TestBrokerOverTLSWithNatsCA(t *testing.T) {
	dir := t.TempDir()
	caFile, pair := certs(t, dir)
	otherCA, _ := certs(t, t.TempDir())
	s := runServer(t, &server.Options{TLS: true, TLSTimeout: 2,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	url := fmt.Sprintf("tls://127.0.0.1:%d", s.Addr().(*net.TCPAddr).Port)

	b := flags(t, "--nats", url, "--nats-ca", caFile)
	nc, err := b.Connect(b.URLs, "tls-test", nil)
	if err != nil {
		t.Fatalf("connect with --nats-ca: %v", err)
	}
	defer nc.Close()
	if st, err := nc.TLSConnectionState(); err != nil || !st.HandshakeComplete || len(st.PeerCertificates) == 0 {
		t.Fatalf("connection is not TLS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ring := brokertest.Ring(5)
	q, err := queue.Open(ctx, nc, ring, brokertest.Config())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := q.Submit(ctx, queue.Image{Data: []byte("sealed over TLS"), Source: "a.jpg", Camera: "gate-1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.Consumer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m, err := queue.ParseMessage(msg.Data())
	if err != nil || m.ID != rc.ID {
		t.Fatalf("job %q (%v), want %q", m.ID, err, rc.ID)
	}
	if data, _, err := q.Open(ctx, m); err != nil || string(data) != "sealed over TLS" {
		t.Fatalf("open: %q %v", data, err)
	}
	msg.Ack()

	for name, args := range map[string][]string{
		"no CA":         {"--nats", url},
		"another CA":    {"--nats", url, "--nats-ca", otherCA},
		"plain nats://": {"--nats", strings.Replace(url, "tls://", "nats://", 1)},
	} {
		b := flags(t, args...)
		nc, err := b.Connect(b.URLs, "tls-test", nil)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected to a broker whose certificate it cannot verify", name)
			continue
		}
		t.Logf("%s: refused: %v", name, err)
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: error %q does not say the certificate is untrusted", name, err)
		}
	}
}

// TestCameraNATSUserCanPublishJobsButNotReadThem loads the example
// configuration in docs/ into a real nats-server: the camera user can
// publish a job (and get its acknowledgement), but cannot subscribe to
// jobs, fetch from the workers' consumer, read the stream or buckets, or
// see the workers' replies; the pipeline's user then fetches the camera's
// job.
func TestCameraNATSUserCanPublishJobsButNotReadThem(t *testing.T) {
	t.Setenv("PLATEMASK_NATS_PASSWORD", "pipeline-pw")
	t.Setenv("CAMERA_GATE_1_PASSWORD", "camera-pw")
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "docs", "nats-permissions.conf"))
	if err != nil {
		t.Fatal(err)
	}
	s := runServer(t, opts)
	url := s.ClientURL()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	b := flags(t, "--nats", url, "--nats-user", "platemask")
	t.Setenv(pipeline.EnvNATSPassword, "pipeline-pw")
	pnc, err := b.Connect(b.URLs, "pipeline", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pnc.Close()
	q, err := queue.Open(ctx, pnc, brokertest.Ring(5), brokertest.Config())
	if err != nil {
		t.Fatal(err)
	}

	denied := make(chan error, 16)
	cam, err := nats.Connect(url, nats.UserInfo("camera-gate-1", "camera-pw"), nats.CustomInboxPrefix("_INBOX_gate-1"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	if _, err := nats.Connect(url, nats.UserInfo("camera-gate-1", "wrong")); err == nil {
		t.Error("camera connected with a wrong password")
	}
	js, err := jetstream.New(cam)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, queue.SubjectJobs, []byte(`{"v":1,"id":"from-camera"}`), jetstream.WithExpectStream(queue.StreamJobs))
	if err != nil || ack.Stream != queue.StreamJobs {
		t.Fatalf("camera publish: %v %+v", err, ack)
	}

	// Everything that would read a job is refused.
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	c1, cancel1 := short()
	defer cancel1()
	if _, err := js.Consumer(c1, queue.StreamJobs, queue.ConsumerWorkers); err == nil {
		t.Error("camera looked up the workers' consumer")
	}
	c2, cancel2 := short()
	defer cancel2()
	if s, err := js.Stream(c2, queue.StreamJobs); err == nil {
		if _, err := s.GetMsg(c2, ack.Sequence); err == nil {
			t.Error("camera read a job from the stream")
		}
	}
	c3, cancel3 := short()
	defer cancel3()
	if _, err := js.ObjectStore(c3, queue.BucketRaw); err == nil {
		t.Error("camera opened the raw bucket")
	}
	// violation waits for the server's refusal naming what was tried.
	violation := func(what string) error {
		deadline := time.After(3 * time.Second)
		for {
			select {
			case err := <-denied:
				if strings.Contains(err.Error(), what) {
					return nil
				}
			case <-deadline:
				return fmt.Errorf("no permissions violation for %s", what)
			}
		}
	}
	for _, subj := range []string{queue.SubjectJobs, ">", "_INBOX.>", "$JS.API.>", "$O.>"} {
		sub, err := cam.SubscribeSync(subj)
		if err != nil {
			continue
		}
		cam.Flush()
		if err := violation(`Subscription to "` + subj + `"`); err != nil {
			t.Errorf("camera subscribed: %v", err)
		}
		sub.Unsubscribe()
	}
	// Publishing anywhere else is refused too: a fetch request, a delete.
	for _, subj := range []string{"$JS.API.CONSUMER.MSG.NEXT." + queue.StreamJobs + "." + queue.ConsumerWorkers,
		"$JS.API.STREAM.PURGE." + queue.StreamJobs, "platemask.events.stored"} {
		cam.Publish(subj, []byte("1"))
		cam.Flush()
		if err := violation(`Publish to "` + subj + `"`); err != nil {
			t.Errorf("camera published: %v", err)
		}
	}

	// The pipeline's user gets the camera's job.
	c, err := q.Consumer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg.Data()), "from-camera") {
		t.Errorf("worker fetched %q", msg.Data())
	}
	msg.Ack()
}
