// Package store reaches the places images are kept — a local folder, an S3
// bucket, an Azure Blob container — through one small interface, addressed
// by URL:
//
//	/srv/archive, file:///srv/archive   a folder
//	s3://bucket/prefix                  an S3 bucket (AWS or compatible)
//	az://account/container/prefix       an Azure Blob container
//
// Each store serves as a source (streaming List, Get) and as a sink (Put,
// Stat, Delete), and answers the audit's question of what it exposes to
// anyone without credentials. Keys are relative to the URL's prefix and
// use '/' as separator.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Object is one entry of a listing.
type Object struct {
	Key     string // relative to the store's prefix
	Size    int64
	ModTime time.Time
}

// Store is a folder, bucket or container seen through a prefix.
type Store interface {
	// List calls fn for every object under the prefix whose key sorts
	// after after ("" lists all), in lexical byte order of keys, fetching
	// page by page: the listing is never held in memory. An error from fn
	// stops the listing and is returned.
	List(ctx context.Context, after string, fn func(Object) error) error
	// Get reads one object whole, refusing with ErrTooLarge an object
	// larger than limit bytes before reading more than limit+1 of them.
	Get(ctx context.Context, key string, limit int64) ([]byte, error)
	// Put writes one object whole. A reader never sees a partial object.
	Put(ctx context.Context, key string, data []byte, contentType string) error
	// Stat returns an object's size, or ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// Delete removes one object; deleting a missing object is no error.
	Delete(ctx context.Context, key string) error
	// Exposure lists what the server gives to anyone without credentials.
	Exposure(ctx context.Context) ([]Exposure, error)
	// Share returns a read-only URL to one object that expires after ttl,
	// scoped to that object alone. ErrNoShare where the store cannot.
	Share(ctx context.Context, key string, ttl time.Duration) (string, error)
	// String is the store's URL without credentials.
	String() string
}

// Exposure is one way a store is open to anyone.
type Exposure struct {
	// Kind: "public-access" (Azure container access level), "policy"
	// (an S3 bucket policy granting everyone), "anonymous-list",
	// "anonymous-read" (a probe without credentials succeeded).
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// MaxShareTTL is the longest lifetime of a share link any store makes
// (also S3's limit for presigned URLs).
const MaxShareTTL = 7 * 24 * time.Hour

// Errors callers tell apart with errors.Is.
var (
	ErrNotFound = errors.New("object not found")
	ErrTooLarge = errors.New("object larger than the limit")
	ErrNoShare  = errors.New("this store cannot make share links")
	ErrBadURL   = errors.New("bad store URL")
)

// Open returns the store a URL names, configured by c.
func Open(ctx context.Context, raw string, c Config) (Store, error) {
	switch {
	case strings.HasPrefix(raw, "s3://"):
		bucket, prefix, err := splitBucket(strings.TrimPrefix(raw, "s3://"))
		if err != nil {
			return nil, err
		}
		return openS3(ctx, bucket, prefix, c.S3)
	case strings.HasPrefix(raw, "az://"):
		rest := strings.TrimPrefix(raw, "az://")
		account, rest, ok := strings.Cut(rest, "/")
		if !ok || account == "" {
			return nil, fmt.Errorf("%w: want az://account/container/prefix", ErrBadURL)
		}
		container, prefix, err := splitBucket(rest)
		if err != nil {
			return nil, err
		}
		return openAzure(ctx, account, container, prefix, c.Azure)
	case strings.HasPrefix(raw, "file://"):
		return openFolder(strings.TrimPrefix(raw, "file://"))
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return nil, fmt.Errorf("%w: unknown scheme %q (use a path, file://, s3:// or az://)", ErrBadURL, scheme)
	}
	// "s3:/bucket" or "az:acct/c" would otherwise be a folder of that name
	// in the working directory, and outputs would land there unnoticed.
	for _, scheme := range []string{"s3:", "az:", "file:"} {
		if strings.HasPrefix(strings.ToLower(raw), scheme) {
			return nil, fmt.Errorf("%w: %s needs //, as in %s//bucket/prefix", ErrBadURL, scheme, scheme)
		}
	}
	return openFolder(raw)
}

// splitBucket splits "bucket/some/prefix" and normalises the prefix to end
// in '/' unless empty.
func splitBucket(s string) (bucket, prefix string, err error) {
	bucket, prefix, _ = strings.Cut(s, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%w: no bucket or container name", ErrBadURL)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// Split separates an object URL into the URL of its store (its folder or
// prefix) and the key of the object, for commands that take one object.
func Split(raw string) (storeURL, key string, err error) {
	trimmed := strings.TrimRight(raw, "/")
	i := strings.LastIndex(trimmed, "/")
	if i < 0 {
		return ".", trimmed, nil
	}
	storeURL, key = trimmed[:i], trimmed[i+1:]
	for _, scheme := range []string{"s3://", "az://"} {
		if strings.HasPrefix(raw, scheme) {
			minParts := 2 // bucket and key
			if scheme == "az://" {
				minParts = 3 // account, container and key
			}
			if len(strings.Split(strings.TrimPrefix(trimmed, scheme), "/")) < minParts {
				return "", "", fmt.Errorf("%w: no object key in the URL", ErrBadURL)
			}
		}
	}
	if key == "" {
		return "", "", fmt.Errorf("%w: no object key in the URL", ErrBadURL)
	}
	return storeURL, key, nil
}

// scrubURL drops the request URL (which holds the object key) from
// net/http errors, keeping the cause.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.Canceled) || errors.Is(ue.Err, context.DeadlineExceeded) {
			return ue.Err
		}
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}

// checkKey refuses keys that would escape the prefix.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\x00") {
		return fmt.Errorf("%w: invalid object key", ErrBadURL)
	}
	for _, part := range strings.Split(key, "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("%w: invalid object key", ErrBadURL)
		}
	}
	return nil
}
