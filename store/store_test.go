package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/platemask/platemask/internal/storetest"
	"github.com/platemask/platemask/store"
)

// kinds returns one fresh store of each kind, opened by URL.
func kinds(t *testing.T) map[string]store.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]store.Store{}
	// Like the bucket below, the folder exists: listing a missing one is
	// an error (TestListMissingFolder).
	f, err := store.Open(ctx, t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	out["folder"] = f

	s3 := storetest.S3(t)
	s3.Bucket(t, "archive")
	s, err := store.Open(ctx, "s3://archive/site-1", s3.Config())
	if err != nil {
		t.Fatal(err)
	}
	out["s3"] = s

	az := storetest.Azurite(t)
	az.Container(t, "archive")
	a, err := store.Open(ctx, "az://"+storetest.AzuriteAccount+"/archive/site-1", az.Config())
	if err != nil {
		t.Fatal(err)
	}
	out["azure"] = a
	return out
}

func listAll(t *testing.T, s store.Store, after string) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), after, func(o store.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatalf("list: %v", err)
	}
	return keys
}

func TestContract(t *testing.T) {
	ctx := context.Background()
	for name, s := range kinds(t) {
		t.Run(name, func(t *testing.T) {
			if got := listAll(t, s, ""); len(got) != 0 {
				t.Fatalf("fresh store lists %v", got)
			}
			// Keys chosen so that folder walk order and lexical order differ.
			keys := []string{"a.b", "a/b", "a/c/d.jpg", "a0", "b/x.jpg", "b/x.jpg.json", "z"}
			for i := len(keys) - 1; i >= 0; i-- {
				if err := s.Put(ctx, keys[i], []byte("data-"+keys[i]), "application/octet-stream"); err != nil {
					t.Fatalf("put: %v", err)
				}
			}
			if got := listAll(t, s, ""); strings.Join(got, " ") != strings.Join(keys, " ") {
				t.Errorf("list = %v, want %v", got, keys)
			}
			if got := listAll(t, s, "a/b"); strings.Join(got, " ") != strings.Join(keys[2:], " ") {
				t.Errorf("list after a/b = %v", got)
			}
			if got := listAll(t, s, "a0"); strings.Join(got, " ") != strings.Join(keys[4:], " ") {
				t.Errorf("list after a0 = %v", got)
			}
			data, err := s.Get(ctx, "a/c/d.jpg", 100)
			if err != nil || string(data) != "data-a/c/d.jpg" {
				t.Errorf("get = %q, %v", data, err)
			}
			if _, err := s.Get(ctx, "a/c/d.jpg", 5); !errors.Is(err, store.ErrTooLarge) {
				t.Errorf("get over limit: %v", err)
			}
			if _, err := s.Get(ctx, "missing.jpg", 100); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("get missing: %v", err)
			}
			o, err := s.Stat(ctx, "b/x.jpg")
			if err != nil || o.Size != int64(len("data-b/x.jpg")) {
				t.Errorf("stat = %+v, %v", o, err)
			}
			if _, err := s.Stat(ctx, "b/nope.jpg"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("stat missing: %v", err)
			}
			if err := s.Put(ctx, "b/x.jpg", []byte("overwritten"), "image/jpeg"); err != nil {
				t.Fatal(err)
			}
			if data, _ := s.Get(ctx, "b/x.jpg", 100); string(data) != "overwritten" {
				t.Errorf("overwrite: %q", data)
			}
			if err := s.Delete(ctx, "b/x.jpg"); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "b/x.jpg"); err != nil {
				t.Errorf("second delete: %v", err)
			}
			if _, err := s.Stat(ctx, "b/x.jpg"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("stat deleted: %v", err)
			}
			for _, bad := range []string{"../escape", "/abs", "a//b", ""} {
				if err := s.Put(ctx, bad, nil, ""); !errors.Is(err, store.ErrBadURL) {
					t.Errorf("put %q: %v", bad, err)
				}
			}
			// An error from the callback stops the listing.
			stop := errors.New("enough")
			n := 0
			err = s.List(ctx, "", func(store.Object) error { n++; return stop })
			if !errors.Is(err, stop) || n != 1 {
				t.Errorf("stop listing: n=%d err=%v", n, err)
			}
			exp, err := s.Exposure(ctx)
			if err != nil || len(exp) != 0 {
				t.Errorf("private store exposure = %v, %v", exp, err)
			}
		})
	}
}

// TestListPages lists more keys than one page holds.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	store.SetAzurePageSize(t, 7)
	for name, s := range kinds(t) {
		t.Run(name, func(t *testing.T) {
			n := 30
			if name == "s3" {
				n = 1005 // minio-go asks for 1000 keys a page
			}
			for i := 0; i < n; i++ {
				if err := s.Put(ctx, fmt.Sprintf("k%05d", i), []byte{1}, ""); err != nil {
					t.Fatal(err)
				}
			}
			got := listAll(t, s, "")
			if len(got) != n || got[n-1] != fmt.Sprintf("k%05d", n-1) {
				t.Fatalf("listed %d keys, want %d", len(got), n)
			}
			if got := listAll(t, s, fmt.Sprintf("k%05d", n-3)); len(got) != 2 {
				t.Errorf("after: %v", got)
			}
		})
	}
}

func TestExposure(t *testing.T) {
	ctx := context.Background()
	t.Run("s3", func(t *testing.T) {
		srv := storetest.S3(t)
		srv.Bucket(t, "open")
		s, err := store.Open(ctx, "s3://open", srv.Config())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "20241230152519495_N74DYX_VEHICLE_DETECTION.jpg", []byte("x"), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		srv.SetPolicy(t, "open", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::open/*"]}]}`)
		exp, err := s.Exposure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !hasKind(exp, "policy") {
			t.Errorf("public policy not reported: %v", exp)
		}
		t.Logf("s3 exposure: %v", exp)
	})
	t.Run("azure", func(t *testing.T) {
		srv := storetest.Azurite(t)
		srv.Container(t, "open")
		s, err := store.Open(ctx, "az://"+storetest.AzuriteAccount+"/open", srv.Config())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "cam/20241230152519495_N74DYX.jpg", []byte("x"), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		cc := srv.Client().ServiceClient().NewContainerClient("open")
		if _, err := cc.SetAccessPolicy(ctx, &container.SetAccessPolicyOptions{Access: to.Ptr(container.PublicAccessTypeContainer)}); err != nil {
			t.Fatal(err)
		}
		exp, err := s.Exposure(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"public-access", "anonymous-list", "anonymous-read"} {
			if !hasKind(exp, k) {
				t.Errorf("%s not reported: %v", k, exp)
			}
		}
	})
}

func hasKind(exp []store.Exposure, kind string) bool {
	for _, e := range exp {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func TestShare(t *testing.T) {
	ctx := context.Background()
	for name, s := range kinds(t) {
		t.Run(name, func(t *testing.T) {
			if err := s.Put(ctx, "out/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", []byte("redacted"), "image/jpeg"); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "out/other.jpg", []byte("other"), "image/jpeg"); err != nil {
				t.Fatal(err)
			}
			u, err := s.Share(ctx, "out/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", time.Hour)
			if name == "folder" {
				if !errors.Is(err, store.ErrNoShare) {
					t.Errorf("folder share: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if body, code := get(t, u); code != http.StatusOK || body != "redacted" {
				t.Errorf("GET share = %d %q", code, body)
			}
			// The link opens that object only: not its neighbour, and no write.
			other := strings.Replace(u, "kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", "other.jpg", 1)
			if _, code := get(t, other); code == http.StatusOK {
				t.Error("share link also opens another object")
			}
			req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader("tampered"))
			req.Header.Set("x-ms-blob-type", "BlockBlob")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					t.Errorf("share link allows PUT: %d", resp.StatusCode)
				}
			}
			if _, err := s.Share(ctx, "out/x.jpg", 8*24*time.Hour); err == nil {
				t.Error("8-day link made")
			}
			// A short link expires.
			u, err = s.Share(ctx, "out/kfqm3bdyu7wvyjxw2mpbnz4gxe.jpg", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2100 * time.Millisecond)
			if _, code := get(t, u); code == http.StatusOK {
				t.Error("expired link still opens")
			}
		})
	}
}

func get(t *testing.T, u string) (string, int) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

func TestOpenRejects(t *testing.T) {
	for _, u := range []string{"s3://", "az://acct", "az://acct/", "ftp://x/y", "s3:///prefix", "s3:/bucket", "S3:bucket", "az:acct/c", "file:/tmp/x"} {
		if _, err := store.Open(context.Background(), u, store.Config{Azure: store.AzureConfig{AccountKey: "a2V5"}}); !errors.Is(err, store.ErrBadURL) {
			t.Errorf("Open(%q) = %v", u, err)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct{ in, store, key string }{
		{"s3://b/out/x.jpg", "s3://b/out", "x.jpg"},
		{"s3://b/x.jpg", "s3://b", "x.jpg"},
		{"az://acct/c/x.jpg", "az://acct/c", "x.jpg"},
		{"/tmp/out/x.jpg", "/tmp/out", "x.jpg"},
	}
	for _, tt := range tests {
		s, k, err := store.Split(tt.in)
		if err != nil || s != tt.store || k != tt.key {
			t.Errorf("Split(%q) = %q %q %v", tt.in, s, k, err)
		}
	}
	for _, bad := range []string{"s3://b", "az://acct/c"} {
		if _, _, err := store.Split(bad); err == nil {
			t.Errorf("Split(%q) accepted", bad)
		}
	}
}

// A folder that does not exist is an error to list, not an empty store:
// otherwise a mistyped source audits as clean and reprocesses as done.
func TestListMissingFolder(t *testing.T) {
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sampels"), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.List(context.Background(), "", func(store.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "sampels") {
		t.Errorf("list of a missing folder: %v, want an error that says so without the path", err)
	}
}
