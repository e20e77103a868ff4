package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a bucket and prefix on AWS S3 or a compatible server.
type S3 struct {
	client   *minio.Client
	anon     *minio.Client // no credentials, for exposure probes
	bucket   string
	prefix   string
	endpoint string
}

func openS3(_ context.Context, bucket, prefix string, c S3Config) (*S3, error) {
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: S3 endpoint must be a URL", ErrBadURL)
	}
	var creds *credentials.Credentials
	if c.AccessKey != "" {
		creds = credentials.NewStaticV4(c.AccessKey, c.SecretKey, c.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		})
	}
	opts := func(cr *credentials.Credentials) *minio.Options {
		return &minio.Options{Creds: cr, Secure: u.Scheme == "https", Region: c.Region}
	}
	client, err := minio.New(u.Host, opts(creds))
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	anon, err := minio.New(u.Host, opts(credentials.NewStatic("", "", "", credentials.SignatureAnonymous)))
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return &S3{client: client, anon: anon, bucket: bucket, prefix: prefix, endpoint: u.Host}, nil
}

func (s *S3) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// s3Err classifies a minio error, keeping the key out of the message.
func s3Err(op string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "NoSuchKey", "NotFound":
			return ErrNotFound
		}
		return fmt.Errorf("s3 %s: %s (HTTP %d)", op, resp.Code, resp.StatusCode)
	}
	return fmt.Errorf("s3 %s: %w", op, scrubURL(err))
}

// List uses ListObjectsV2 with StartAfter; minio-go fetches pages of up
// to 1000 keys as the channel is drained.
func (s *S3) List(ctx context.Context, after string, fn func(Object) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's page fetching when fn fails
	opts := minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}
	if after != "" {
		opts.StartAfter = s.prefix + after
	}
	for o := range s.client.ListObjects(ctx, s.bucket, opts) {
		if o.Err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s3Err("list", o.Err)
		}
		key := strings.TrimPrefix(o.Key, s.prefix)
		if key == "" || strings.HasSuffix(key, "/") {
			continue // folder markers
		}
		if err := fn(Object{Key: key, Size: o.Size, ModTime: o.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Get reads one object, refusing it by size before the body is read.
func (s *S3) Get(ctx context.Context, key string, limit int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Err("get", err)
	}
	defer obj.Close()
	st, err := obj.Stat()
	if err != nil {
		return nil, s3Err("get", err)
	}
	if st.Size > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	data, err := readLimited(obj, limit)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, s3Err("get", errors.Unwrap(err))
	}
	return data, err
}

// Put uploads in one request: S3 makes an object visible only when whole.
func (s *S3) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentType, DisableMultipart: true})
	if err != nil {
		return s3Err("put", err)
	}
	return nil
}

// Stat returns the object's size.
func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	if err := checkKey(key); err != nil {
		return Object{}, err
	}
	st, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, s3Err("stat", err)
	}
	return Object{Key: key, Size: st.Size, ModTime: st.LastModified}, nil
}

// Delete removes one object.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		if err := s3Err("delete", err); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// Share presigns a GET for one object (SigV4, at most 7 days).
func (s *S3) Share(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxShareTTL {
		return "", fmt.Errorf("share lifetime must be between 1s and %s", MaxShareTTL)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.prefix+key, ttl, nil)
	if err != nil {
		return "", s3Err("presign", err)
	}
	return u.String(), nil
}

// Exposure reads the bucket policy for statements that grant everyone
// ("Principal": "*") reading or listing, then probes without credentials:
// a listing of the prefix and a read of its first object.
func (s *S3) Exposure(ctx context.Context) ([]Exposure, error) {
	var out []Exposure
	pol, err := s.client.GetBucketPolicy(ctx, s.bucket)
	if err != nil {
		var resp minio.ErrorResponse
		if !errors.As(err, &resp) || (resp.Code != "NoSuchBucketPolicy" && resp.StatusCode != http.StatusNotFound) {
			return nil, s3Err("get bucket policy", err)
		}
	}
	for _, grant := range publicGrants(pol) {
		out = append(out, Exposure{Kind: "policy", Detail: "bucket policy allows anyone: " + grant})
	}
	first := ""
	lctx, cancel := context.WithCancel(ctx)
	for o := range s.anon.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true, MaxKeys: 1}) {
		if o.Err == nil {
			out = append(out, Exposure{Kind: "anonymous-list", Detail: "the bucket lists without credentials"})
		}
		break
	}
	cancel()
	// The first object, found with credentials, read without them.
	err = s.List(ctx, "", func(o Object) error { first = o.Key; return errStop })
	if err != nil && !errors.Is(err, errStop) {
		return out, err
	}
	if first != "" {
		obj, err := s.anon.GetObject(ctx, s.bucket, s.prefix+first, minio.GetObjectOptions{})
		if err == nil {
			_, err = obj.Read(make([]byte, 1))
			obj.Close()
			if err == nil || errors.Is(err, io.EOF) {
				out = append(out, Exposure{Kind: "anonymous-read", Detail: "an object reads without credentials"})
			}
		}
	}
	return out, nil
}

var errStop = errors.New("stop")

// publicGrants returns the actions a bucket policy allows to everyone.
func publicGrants(policy string) []string {
	if strings.TrimSpace(policy) == "" {
		return nil
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Principal json.RawMessage
			Action    json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return []string{"(unreadable policy)"}
	}
	var out []string
	for _, st := range doc.Statement {
		if !strings.EqualFold(st.Effect, "Allow") || !everyone(st.Principal) {
			continue
		}
		for _, a := range stringList(st.Action) {
			la := strings.ToLower(a)
			if la == "*" || la == "s3:*" || strings.HasPrefix(la, "s3:get") || strings.HasPrefix(la, "s3:list") {
				out = append(out, a)
			}
		}
	}
	return out
}

func everyone(p json.RawMessage) bool {
	var s string
	if json.Unmarshal(p, &s) == nil {
		return s == "*"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) == nil {
		for _, v := range m {
			for _, x := range stringList(v) {
				if x == "*" {
					return true
				}
			}
		}
	}
	return false
}

func stringList(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var l []string
	json.Unmarshal(raw, &l)
	return l
}
