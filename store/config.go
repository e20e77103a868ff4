package store

import (
	"fmt"
	"os"
	"strings"
)

// Config holds how to reach the cloud stores. Secrets come from the
// environment only, never from flags, so they stay out of shell history
// and process listings.
type Config struct {
	S3    S3Config
	Azure AzureConfig
}

// S3Config reaches AWS S3 or a compatible server.
type S3Config struct {
	// Endpoint is the server URL ("https://s3.amazonaws.com" when empty);
	// http:// endpoints are used without TLS (local servers).
	Endpoint string
	Region   string
	// Static credentials; when AccessKey is empty the usual AWS chain is
	// tried (environment, shared credentials file, instance role).
	AccessKey, SecretKey, SessionToken string
}

// AzureConfig reaches Azure Blob Storage or Azurite.
type AzureConfig struct {
	// Endpoint is the blob service URL, "https://ACCOUNT.blob.core.windows.net"
	// when empty; for Azurite "http://127.0.0.1:10000/devstoreaccount1".
	Endpoint string
	// One of these authenticates, tried in this order.
	ConnectionString string
	AccountKey       string
	SAS              string // a SAS token (query string), for sources and sinks only
}

// Environment variables read by ConfigFromEnv.
const (
	EnvS3Endpoint    = "AWS_ENDPOINT_URL_S3"
	EnvAWSEndpoint   = "AWS_ENDPOINT_URL"
	EnvAWSRegion     = "AWS_REGION"
	EnvAWSDefRegion  = "AWS_DEFAULT_REGION"
	EnvAWSAccessKey  = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretKey  = "AWS_SECRET_ACCESS_KEY"
	EnvAWSSession    = "AWS_SESSION_TOKEN"
	EnvAzureConn     = "AZURE_STORAGE_CONNECTION_STRING"
	EnvAzureKey      = "AZURE_STORAGE_KEY"
	EnvAzureSAS      = "AZURE_STORAGE_SAS_TOKEN"
	EnvAzureEndpoint = "AZURE_STORAGE_BLOB_ENDPOINT"
)

// ConfigFromEnv reads the standard AWS and Azure environment variables.
func ConfigFromEnv() Config {
	first := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	return Config{
		S3: S3Config{
			Endpoint:     first(EnvS3Endpoint, EnvAWSEndpoint),
			Region:       first(EnvAWSRegion, EnvAWSDefRegion),
			AccessKey:    os.Getenv(EnvAWSAccessKey),
			SecretKey:    os.Getenv(EnvAWSSecretKey),
			SessionToken: os.Getenv(EnvAWSSession),
		},
		Azure: AzureConfig{
			Endpoint:         os.Getenv(EnvAzureEndpoint),
			ConnectionString: os.Getenv(EnvAzureConn),
			AccountKey:       os.Getenv(EnvAzureKey),
			SAS:              strings.TrimPrefix(os.Getenv(EnvAzureSAS), "?"),
		},
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	for _, e := range []struct{ name, v string }{{"S3 endpoint", c.S3.Endpoint}, {"Azure endpoint", c.Azure.Endpoint}} {
		if e.v != "" && !strings.HasPrefix(e.v, "http://") && !strings.HasPrefix(e.v, "https://") {
			return fmt.Errorf("%s must start with http:// or https://", e.name)
		}
	}
	if (c.S3.AccessKey == "") != (c.S3.SecretKey == "") {
		return fmt.Errorf("S3 credentials need both %s and %s", EnvAWSAccessKey, EnvAWSSecretKey)
	}
	return nil
}
