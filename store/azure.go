package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// azurePageSize is the names fetched per listing request (tests lower it).
var azurePageSize int32 = 5000

// Azure is a blob container and prefix on Azure Blob Storage or Azurite.
type Azure struct {
	client    *container.Client
	account   string
	container string
	prefix    string
	anonURL   string // container URL without any credential, for probes
}

func openAzure(_ context.Context, account, containerName, prefix string, c AzureConfig) (*Azure, error) {
	serviceURL := c.Endpoint
	if serviceURL == "" {
		serviceURL = "https://" + account + ".blob.core.windows.net/"
	}
	if !strings.HasSuffix(serviceURL, "/") {
		serviceURL += "/"
	}
	var svc *azblob.Client
	var err error
	switch {
	case c.ConnectionString != "":
		if name := connField(c.ConnectionString, "AccountName"); name != "" && name != account {
			return nil, fmt.Errorf("%w: the URL names account %q but %s is for account %q", ErrBadURL, account, EnvAzureConn, name)
		}
		svc, err = azblob.NewClientFromConnectionString(c.ConnectionString, nil)
		if err == nil {
			serviceURL = svc.URL()
		}
	case c.AccountKey != "":
		var cred *azblob.SharedKeyCredential
		cred, err = azblob.NewSharedKeyCredential(account, c.AccountKey)
		if err == nil {
			svc, err = azblob.NewClientWithSharedKeyCredential(serviceURL, cred, nil)
		}
	case c.SAS != "":
		svc, err = azblob.NewClientWithNoCredential(serviceURL+"?"+c.SAS, nil)
	default:
		return nil, fmt.Errorf("azure: no credentials: set %s, %s or %s", EnvAzureConn, EnvAzureKey, EnvAzureSAS)
	}
	if err != nil {
		return nil, fmt.Errorf("azure client: %w", azErr(err))
	}
	anon, err := url.JoinPath(serviceURL, containerName)
	if err != nil {
		return nil, fmt.Errorf("%w: azure endpoint", ErrBadURL)
	}
	return &Azure{client: svc.ServiceClient().NewContainerClient(containerName), account: account,
		container: containerName, prefix: prefix, anonURL: anon}, nil
}

// connField reads one field of a connection string.
func connField(cs, name string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (a *Azure) String() string { return "az://" + a.account + "/" + a.container + "/" + a.prefix }

// azErr classifies an Azure error. The SDK's own message holds the request
// URL (the blob name), so only the code and status are kept.
func azErr(err error) error {
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return ErrNotFound
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("azure: %s (HTTP %d)", re.ErrorCode, re.StatusCode)
	}
	return fmt.Errorf("azure: %w", scrubURL(err))
}

// List pages through a flat listing, 5000 names a page. Azure lists in
// lexical order and has no start-after, so keys up to after are skipped
// here.
func (a *Azure) List(ctx context.Context, after string, fn func(Object) error) error {
	pager := a.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(a.prefix), MaxResults: to.Ptr(azurePageSize)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				return nil // an empty store
			}
			return fmt.Errorf("list: %w", azErr(err))
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil {
				continue
			}
			key := strings.TrimPrefix(*it.Name, a.prefix)
			if key <= after || key == "" {
				continue
			}
			o := Object{Key: key}
			if p := it.Properties; p != nil {
				if p.ContentLength != nil {
					o.Size = *p.ContentLength
				}
				if p.LastModified != nil {
					o.ModTime = *p.LastModified
				}
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *Azure) blob(key string) (*blob.Client, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return a.client.NewBlobClient(a.prefix + key), nil
}

// Get reads one blob, refusing it by size before the body is read.
func (a *Azure) Get(ctx context.Context, key string, limit int64) ([]byte, error) {
	b, err := a.blob(key)
	if err != nil {
		return nil, err
	}
	resp, err := b.DownloadStream(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("get: %w", azErr(err))
	}
	defer resp.Body.Close()
	if resp.ContentLength != nil && *resp.ContentLength > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return readLimited(resp.Body, limit)
}

// Put uploads a block blob in one request; it is visible only when whole.
func (a *Azure) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	bb := a.client.NewBlockBlobClient(a.prefix + key)
	_, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: to.Ptr(contentType)},
	})
	if err != nil {
		return fmt.Errorf("put: %w", azErr(err))
	}
	return nil
}

// Stat returns the blob's size.
func (a *Azure) Stat(ctx context.Context, key string) (Object, error) {
	b, err := a.blob(key)
	if err != nil {
		return Object{}, err
	}
	p, err := b.GetProperties(ctx, nil)
	if err != nil {
		if e := azErr(err); errors.Is(e, ErrNotFound) {
			return Object{}, e
		}
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return Object{}, ErrNotFound // HEAD responses carry no error code
		}
		return Object{}, fmt.Errorf("stat: %w", azErr(err))
	}
	o := Object{Key: key}
	if p.ContentLength != nil {
		o.Size = *p.ContentLength
	}
	if p.LastModified != nil {
		o.ModTime = *p.LastModified
	}
	return o, nil
}

// Delete removes one blob (and its snapshots).
func (a *Azure) Delete(ctx context.Context, key string) error {
	b, err := a.blob(key)
	if err != nil {
		return err
	}
	_, err = b.Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: to.Ptr(blob.DeleteSnapshotsOptionTypeInclude)})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return fmt.Errorf("delete: %w", azErr(err))
	}
	return nil
}

// Share signs a service SAS for one blob with read permission only,
// valid from a minute ago (clock skew) for ttl. It needs the account key;
// a SAS given to platemask cannot mint another.
func (a *Azure) Share(_ context.Context, key string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxShareTTL {
		return "", fmt.Errorf("share lifetime must be between 1s and %s", MaxShareTTL)
	}
	b, err := a.blob(key)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	u, err := b.GetSASURL(sas.BlobPermissions{Read: true}, now.Add(ttl), &blob.GetSASURLOptions{StartTime: to.Ptr(now.Add(-time.Minute))})
	if errors.Is(err, bloberror.MissingSharedKeyCredential) {
		return "", fmt.Errorf("%w: signing a blob SAS needs the account key (%s or %s)", ErrNoShare, EnvAzureConn, EnvAzureKey)
	}
	if err != nil {
		return "", fmt.Errorf("share: %w", azErr(err))
	}
	return u, nil
}

// Exposure reads the container's public access level, then probes
// without credentials: a listing of the container and a read of the
// first blob under the prefix.
func (a *Azure) Exposure(ctx context.Context) ([]Exposure, error) {
	var out []Exposure
	props, err := a.client.GetProperties(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("container properties: %w", azErr(err))
	}
	if p := props.BlobPublicAccess; p != nil && *p != "" {
		detail := "container public access level is " + string(*p) + ": anyone can read blobs"
		if *p == container.PublicAccessTypeContainer {
			detail += " and list the container"
		}
		out = append(out, Exposure{Kind: "public-access", Detail: detail})
	}
	hc := &http.Client{Timeout: 20 * time.Second}
	probe := func(u string) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return false
		}
		req.Header.Set("x-ms-version", "2021-12-02")
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if probe(a.anonURL + "?restype=container&comp=list&maxresults=1") {
		out = append(out, Exposure{Kind: "anonymous-list", Detail: "the container lists without credentials"})
	}
	first := ""
	err = a.List(ctx, "", func(o Object) error { first = o.Key; return errStop })
	if err != nil && !errors.Is(err, errStop) {
		return out, err
	}
	if first != "" {
		u, err := url.JoinPath(a.anonURL, strings.Split(a.prefix+first, "/")...)
		if err == nil && probe(u) {
			out = append(out, Exposure{Kind: "anonymous-read", Detail: "a blob reads without credentials"})
		}
	}
	return out, nil
}
