package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectConfig says how to reach a broker: the embedded one or an
// external server or cluster.
type ConnectConfig struct {
	// URLs is one or more comma-separated server URLs.
	URLs     string
	User     string
	Password string
	// NKeyFile is a file holding an NKey seed; CredsFile a JWT creds file.
	NKeyFile  string
	CredsFile string
	// CAFile is a PEM bundle to verify the server's TLS certificate; with
	// CertFile and KeyFile the client also presents its own.
	CAFile, CertFile, KeyFile string
	// Name tells the server who connected (shown in its monitoring).
	Name string
	// Logger receives connection events (nil: slog.Default).
	Logger *slog.Logger
}

// Validate checks the combination of options.
func (c ConnectConfig) Validate() error {
	if strings.TrimSpace(c.URLs) == "" {
		return errors.New("no broker URL")
	}
	// nats.go reads any other scheme as "no servers available", which
	// hides a plain typo such as http://.
	for _, u := range strings.Split(c.URLs, ",") {
		u = strings.TrimSpace(u)
		if scheme, _, ok := strings.Cut(u, "://"); ok && !slices.Contains([]string{"nats", "tls", "ws", "wss"}, strings.ToLower(scheme)) {
			return fmt.Errorf("broker URL %q: scheme %s:// is not one of nats://, tls://, ws://, wss://", u, scheme)
		}
	}
	auth := 0
	for _, set := range []bool{c.User != "", c.NKeyFile != "", c.CredsFile != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		return errors.New("choose one of user/password, NKey seed or creds file")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("a TLS client certificate needs both the cert and the key file")
	}
	return nil
}

// Connect dials the broker. The connection reconnects forever: a broker
// restart pauses the pipeline, it never ends it.
func Connect(c ConnectConfig) (*nats.Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	name := c.Name
	if name == "" {
		name = "platemask"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("broker connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("broker connection restored") }),
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nkey seed: %w", err)
		}
		opts = append(opts, o)
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	nc, err := nats.Connect(strings.ReplaceAll(c.URLs, " ", ""), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to broker: %w", err)
	}
	return nc, nil
}
