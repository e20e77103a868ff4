// Package storeflag adds the flags that reach cloud stores to a command.
// Secrets come from the environment only (see store.ConfigFromEnv).
package storeflag

import (
	"github.com/spf13/pflag"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/store"
)

// Help is the text commands put in their long help about store URLs.
const Help = `Stores are addressed by URL: a folder (a path or file:///path),
s3://bucket/prefix or az://account/container/prefix.
S3: credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the
shared credentials file, or an instance role), AWS_REGION, and the endpoint
from AWS_ENDPOINT_URL(_S3) or --s3-endpoint for S3-compatible servers.
Azure: AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_KEY (account key),
or AZURE_STORAGE_SAS_TOKEN; AZURE_STORAGE_BLOB_ENDPOINT or --azure-endpoint
for another endpoint (Azurite: http://127.0.0.1:10000/devstoreaccount1).`

// Flags are the store flags of one command.
type Flags struct {
	s3Endpoint, s3Region, azureEndpoint string
}

// Add registers the flags on f.
func Add(f *pflag.FlagSet) *Flags {
	fl := &Flags{}
	f.StringVar(&fl.s3Endpoint, "s3-endpoint", "", "S3 endpoint URL (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL or AWS)")
	f.StringVar(&fl.s3Region, "s3-region", "", "S3 region (default $AWS_REGION)")
	f.StringVar(&fl.azureEndpoint, "azure-endpoint", "", "Azure blob service URL (default $AZURE_STORAGE_BLOB_ENDPOINT or https://ACCOUNT.blob.core.windows.net)")
	return fl
}

// Config is the environment's configuration with the flags that were set
// laid over it (the environment's alone on a nil Flags).
func (fl *Flags) Config() (store.Config, error) {
	c := store.ConfigFromEnv()
	if fl == nil {
		fl = &Flags{}
	}
	if fl.s3Endpoint != "" {
		c.S3.Endpoint = fl.s3Endpoint
	}
	if fl.s3Region != "" {
		c.S3.Region = fl.s3Region
	}
	if fl.azureEndpoint != "" {
		c.Azure.Endpoint = fl.azureEndpoint
	}
	if err := c.Validate(); err != nil {
		return c, cmdutil.UsageError("%w", err)
	}
	return c, nil
}

// Resolve returns override when a caller (a test) set one, and otherwise
// the configuration from the environment and fl.
func Resolve(override *store.Config, fl *Flags) (store.Config, error) {
	if override != nil {
		return *override, nil
	}
	return fl.Config()
}
