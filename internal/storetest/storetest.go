// Package storetest starts real local storage servers for tests: versitygw
// (S3, posix backend in a temporary folder) and Azurite (Azure Blob, in
// memory). No API is mocked. The servers are found through
// PLATEMASK_VERSITYGW and PLATEMASK_AZURITE, then under .cache/ at the
// module root (where scripts/test-servers.sh puts them), then on PATH.
// Where one is missing a test skips, except in CI (CI set), where it fails.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/platemask/platemask/store"
)

// AzuriteAccount and AzuriteKey are Azurite's well-known development
// account; they are public and grant nothing outside the emulator.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// S3Server is a running versitygw.
type S3Server struct {
	Endpoint             string // http://127.0.0.1:PORT
	AccessKey, SecretKey string
	Dir                  string // posix backend root: one folder per bucket
	client               *minio.Client
}

// Config returns a store configuration that reaches the server.
func (s *S3Server) Config() store.Config {
	return store.Config{S3: store.S3Config{Endpoint: s.Endpoint, Region: "us-east-1", AccessKey: s.AccessKey, SecretKey: s.SecretKey}}
}

// Env returns the environment variables a subprocess needs.
func (s *S3Server) Env() []string {
	return []string{"AWS_ENDPOINT_URL=" + s.Endpoint, "AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_REGION=us-east-1"}
}

// Bucket creates a bucket and returns its name.
func (s *S3Server) Bucket(t testing.TB, name string) string {
	t.Helper()
	if err := s.client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	return name
}

// SetPolicy sets a bucket policy (JSON).
func (s *S3Server) SetPolicy(t testing.TB, bucket, policy string) {
	t.Helper()
	if err := s.client.SetBucketPolicy(context.Background(), bucket, policy); err != nil {
		t.Fatalf("set bucket policy: %v", err)
	}
}

// AzureServer is a running Azurite blob service.
type AzureServer struct {
	Endpoint         string // http://127.0.0.1:PORT/devstoreaccount1
	ConnectionString string
	client           *azblob.Client
}

// Config returns a store configuration that reaches the server.
func (a *AzureServer) Config() store.Config {
	return store.Config{Azure: store.AzureConfig{Endpoint: a.Endpoint, ConnectionString: a.ConnectionString}}
}

// Env returns the environment variables a subprocess needs.
func (a *AzureServer) Env() []string {
	return []string{"AZURE_STORAGE_CONNECTION_STRING=" + a.ConnectionString}
}

// Container creates a container and returns its name.
func (a *AzureServer) Container(t testing.TB, name string) string {
	t.Helper()
	if _, err := a.client.CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return name
}

// Client is the service client, for test setup such as access levels.
func (a *AzureServer) Client() *azblob.Client { return a.client }

// need finds a server binary or skips (fails in CI).
func need(t testing.TB, env, cached, onPath string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if root := moduleRoot(); root != "" {
		if p := filepath.Join(root, cached); isExec(p) {
			return p
		}
	}
	if p, err := exec.LookPath(onPath); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: run scripts/test-servers.sh (or make test-servers), or set %s", onPath, env)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip("skipped: " + msg)
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

var rootOnce = sync.OnceValue(func() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
})

func moduleRoot() string { return rootOnce() }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a server's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs a server until the test ends and waits for its port.
func start(t testing.TB, port int, name string, args ...string) {
	t.Helper()
	var out lockedBuffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = t.TempDir() // whatever a server writes beside itself
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", filepath.Base(name), err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before listening:\n%s", filepath.Base(name), out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 60s:\n%s", filepath.Base(name), addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// S3 starts versitygw with a posix backend in a temporary folder.
func S3(t testing.TB) *S3Server {
	t.Helper()
	bin := need(t, "PLATEMASK_VERSITYGW", ".cache/bin/versitygw", "versitygw")
	dir := t.TempDir()
	port := freePort(t)
	s := &S3Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), AccessKey: "platemask-test", SecretKey: "platemask-test-secret", Dir: dir}
	start(t, port, bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet",
		"posix", "--sidecar", t.TempDir(), dir)
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

// Azurite starts Azurite's blob service, keeping data in memory.
func Azurite(t testing.TB) *AzureServer {
	t.Helper()
	bin := need(t, "PLATEMASK_AZURITE", ".cache/azurite/node_modules/.bin/azurite-blob", "azurite-blob")
	port := freePort(t)
	start(t, port, bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
		"--silent", "--skipApiVersionCheck", "--loose", "--inMemoryPersistence")
	a := &AzureServer{Endpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, AzuriteAccount)}
	a.ConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", AzuriteAccount, AzuriteKey, a.Endpoint)
	c, err := azblob.NewClientFromConnectionString(a.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.client = c
	return a
}
