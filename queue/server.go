package queue

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig describes the embedded broker.
type ServerConfig struct {
	// DataDir holds the JetStream store (DataDir/jetstream) and the store's
	// encryption key (DataDir/broker.key, 0600).
	DataDir string
	// Host is the client listen address: loopback by default, so the
	// embedded broker is never reachable from the network by accident.
	Host string
	// Port is the client port; -1 picks a free one (tests).
	Port int
	// Logger receives the broker's warnings and errors (nil: none).
	Logger *slog.Logger
	// SyncAlways flushes every store write to disk before the broker
	// acknowledges it. By default the store is flushed every two minutes
	// (JetStream's default): an accepted image survives a killed process
	// either way, but only SyncAlways makes it survive a power loss.
	SyncAlways bool
}

// ErrPortTaken is StartServer's error when its client port is in use.
var ErrPortTaken = errors.New("broker port taken")

// DefaultPort is the embedded broker's client port (NATS's own default).
const DefaultPort = 4222

// Server is an embedded nats-server with JetStream, its store encrypted at
// rest with a key kept in the data dir.
type Server struct {
	*server.Server
	cfg  ServerConfig
	lock *dirLock
}

// ErrInUse is returned when another process already runs a broker on the
// same data dir: two servers on one store would corrupt it.
var ErrInUse = errors.New("broker data dir is in use by another process")

// Files beside the store: the lock held while a broker runs on it, and
// the client URL of that broker, so that tools (platemask queue) can
// connect to it instead of opening the store a second time.
const (
	lockFile = "broker.lock"
	urlFile  = "broker.url"
)

// StartServer starts the embedded broker and waits until it accepts
// clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("broker: no data dir")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Port > 0 {
		// nats-server logs a bind failure and keeps retrying until the
		// readiness wait below gives up; say at once what is wrong.
		addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s (another serve, or a nats-server?): %w", ErrPortTaken, addr, err)
		}
		ln.Close()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("broker data dir: %w", err)
	}
	lock, err := lockDir(filepath.Join(cfg.DataDir, lockFile))
	if err != nil {
		return nil, err
	}
	key, err := storeKey(filepath.Join(cfg.DataDir, "broker.key"))
	if err != nil {
		lock.release()
		return nil, err
	}
	opts := &server.Options{
		ServerName: "platemask",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		// Sealed payloads are already ciphertext; this also covers the job
		// messages, consumer state and object metadata in the store files.
		JetStreamKey:    key,
		JetStreamCipher: server.AES,
		NoSigs:          true,
		NoLog:           cfg.Logger == nil,
		// The default 1 MiB stays: large images go through the object store.
		MaxPayload: 1 << 20,
		SyncAlways: cfg.SyncAlways,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLogger(slogAdapter{cfg.Logger}, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		lock.release()
		return nil, errors.New("broker did not start within 30s")
	}
	srv := &Server{Server: s, cfg: cfg, lock: lock}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, urlFile), []byte(srv.URL()+"\n"), 0o600); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("broker url file: %w", err)
	}
	return srv, nil
}

// URL is the client URL to connect to.
func (s *Server) URL() string { return s.ClientURL() }

// Shutdown stops the broker and releases the data dir.
func (s *Server) Shutdown() {
	s.Server.Shutdown()
	s.lock.release()
}

// Stop shuts the broker down and waits for it.
func (s *Server) Stop() {
	s.Server.Shutdown()
	s.WaitForShutdown()
	s.lock.release()
}

// RunningURL reports the client URL of the broker another process runs
// on dataDir, or "" when none does.
func RunningURL(dataDir string) (string, error) {
	if _, err := os.Stat(dataDir); err != nil {
		return "", fmt.Errorf("broker data dir: %w", err)
	}
	lock, err := lockDir(filepath.Join(dataDir, lockFile))
	if err == nil {
		lock.release()
		return "", nil
	}
	if !errors.Is(err, ErrInUse) {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dataDir, urlFile))
	if err != nil {
		return "", fmt.Errorf("broker running but its url file is unreadable: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// storeKey reads the store encryption key, creating it on first use.
func storeKey(path string) (string, error) {
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("broker key: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("broker key %s is readable by group or others (chmod 600)", path)
		}
		k := strings.TrimSpace(string(raw))
		if len(k) < 32 {
			return "", fmt.Errorf("broker key %s is too short", path)
		}
		return k, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("broker key: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("broker key: %w", err)
	}
	k := hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return storeKey(path)
	}
	if err != nil {
		return "", fmt.Errorf("broker key: %w", err)
	}
	if _, err := f.WriteString(k + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("broker key: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("broker key: %w", err)
	}
	return k, nil
}

// slogAdapter passes the broker's warnings and errors to slog; its notices
// are routine and left out.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(string, ...any) {}
func (a slogAdapter) Debugf(string, ...any)  {}
func (a slogAdapter) Tracef(string, ...any)  {}
func (a slogAdapter) Warnf(f string, v ...any) {
	a.l.Warn("broker: " + fmt.Sprintf(f, v...))
}
func (a slogAdapter) Errorf(f string, v ...any) {
	a.l.Error("broker: " + fmt.Sprintf(f, v...))
}
func (a slogAdapter) Fatalf(f string, v ...any) {
	a.l.Error("broker fatal: " + fmt.Sprintf(f, v...))
}
