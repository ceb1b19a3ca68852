package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// server is the S3 server of the project's scripts (scripts/s3.sh) with a
// fresh bucket for the test.
type server struct {
	cfg Config // endpoint, credentials and bucket set
	api *s3.Client
}

func newServer(t testing.TB) *server {
	t.Helper()
	endpoint := svctest.Need(t, svctest.S3)
	cfg := *DefaultConfig()
	cfg.Endpoint, cfg.PathStyle = endpoint, true
	cfg.Region = os.Getenv("SLUICE_S3_REGION")
	cfg.AccessKeyID, cfg.SecretAccessKey = os.Getenv("SLUICE_S3_ACCESS_KEY"), os.Getenv("SLUICE_S3_SECRET_KEY")
	b := make([]byte, 4)
	rand.Read(b)
	name := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	cfg.Bucket = strings.Trim(fmt.Sprintf("t-%.40s-%s", name, hex.EncodeToString(b)), "-")
	c, err := newClient(cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &cfg.Bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", cfg.Bucket, err)
	}
	srv := &server{cfg: cfg, api: c.api}
	t.Cleanup(func() {
		for _, k := range srv.keys(t) {
			c.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &cfg.Bucket, Key: aws.String(k)})
		}
		c.api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &cfg.Bucket})
	})
	return srv
}

func (srv *server) keys(t testing.TB) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(srv.api, &s3.ListObjectsV2Input{Bucket: &srv.cfg.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	sort.Strings(keys)
	return keys
}

func (srv *server) get(t testing.TB, key string) []byte {
	t.Helper()
	out, err := srv.api.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &srv.cfg.Bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// check compares the bucket with want (key → content) exactly.
func (srv *server) check(t *testing.T, want map[string]string) {
	t.Helper()
	var wantKeys []string
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	sort.Strings(wantKeys)
	if got := srv.keys(t); !slices.Equal(got, wantKeys) {
		t.Fatalf("objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantKeys, "\n"))
	}
	for _, k := range wantKeys {
		if got := string(srv.get(t, k)); got != want[k] {
			t.Errorf("%s:\n%s\nwant\n%s", k, got, want[k])
		}
	}
}

// sink builds a sink from srv's config adjusted by the row-format test
// settings and edit, writing through the real S3 client.
func (srv *server) sink(t *testing.T, dir string, edit func(*Config)) *Sink {
	t.Helper()
	cfg := srv.cfg
	base := rowConfig()
	cfg.Prefix, cfg.Options, cfg.FlushSize, cfg.RotateBytes = base.Prefix, base.Options, base.FlushSize, base.RotateBytes
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, component.Env{Name: "lake", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Objects(t *testing.T) {
	srv := newServer(t)
	s := srv.sink(t, t.TempDir(), nil)
	write(t, s, changes(1, 4))
	write(t, s, changes(5, 7))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.check(t, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6), key(7, 7): rows(7, 7)})
}

func TestS3Parquet(t *testing.T) {
	srv := newServer(t)
	s := srv.sink(t, t.TempDir(), func(c *Config) {
		c.Format, c.Partition, c.Prefix, c.Compression = Parquet, "${table}/${date}", "", "zstd"
	})
	src := event.Source{TsUs: baseMs * 1000, LSN: 0x10, CommitLSN: 0x20, HasLSN: true}
	write(t, s, []event.Event{{Schema: typesSchema, Op: event.OpCreate, After: typesRow(1), Source: src}})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := "types/2024-01-01/pg.public.types+0000000000000020-0000000000000010+0000000000000020-0000000000000010.parquet"
	if keys := srv.keys(t); !slices.Equal(keys, []string{k}) {
		t.Fatalf("objects %v", keys)
	}
	_, got := readParquet(t, srv.get(t, k))
	want := append(append([]string{"1"}, typesRowText...), "c", fmt.Sprint(baseMs), "16", "false")
	if len(got) != 1 || !slices.Equal(got[0], want) {
		t.Errorf("rows %v\nwant %v", got, want)
	}
}

// TestS3Multipart uploads a large object in 5 MiB parts.
func TestS3Multipart(t *testing.T) {
	srv := newServer(t)
	s := srv.sink(t, t.TempDir(), func(c *Config) {
		c.FlushSize, c.RotateBytes, c.PartSize, c.MultipartThreshold = 0, 12<<20, 5<<20, 5<<20
	})
	pad := strings.Repeat("x", 1000)
	var evs []event.Event
	var want strings.Builder
	for i := 1; i <= 13000; i++ {
		e := change(i, event.OpCreate)
		e.After[1] = event.String(pad)
		e.Source.TsUs = baseMs * 1000 // one partition
		evs = append(evs, e)
		fmt.Fprintf(&want, "{\"id\":%d,\"name\":\"%s\",\"__op\":\"c\",\"__lsn\":%d}\n", i, pad, 0x1000*i-8)
	}
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := srv.keys(t)
	if len(keys) != 2 {
		t.Fatalf("objects %v", keys)
	}
	var all strings.Builder
	for _, k := range keys {
		all.Write(srv.get(t, k))
	}
	if all.String() != want.String() {
		t.Fatalf("content differs: %d bytes, want %d", all.Len(), want.Len())
	}
	head, err := srv.api.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &srv.cfg.Bucket, Key: &keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart upload's ETag is "<md5 of part md5s>-<parts>".
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Errorf("ETag %s: not a 3-part upload (size %d)", etag, aws.ToInt64(head.ContentLength))
	}
}

// TestS3ReplayAfterCrash: a new sink on the same state directory, fed the
// same events again, produces the same object names and no duplicates.
func TestS3ReplayAfterCrash(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	s := srv.sink(t, dir, nil)
	write(t, s, changes(1, 2))
	write(t, s, changes(3, 5)) // 1..3 sealed and uploading, 4..5 spooled
	crash(s)
	s = srv.sink(t, dir, nil)
	write(t, s, changes(1, 5)) // the engine's replay from an old checkpoint
	write(t, s, changes(6, 8))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.check(t, map[string]string{key(1, 3): rows(1, 3), key(4, 6): rows(4, 6), key(7, 8): rows(7, 8)})
}

// TestS3RestartUploadsLeftoverSpool: objects sealed while S3 was
// unreachable, and a crash, are uploaded by the next run.
func TestS3RestartUploadsLeftoverSpool(t *testing.T) {
	srv := newServer(t)
	u, _ := url.Parse(srv.cfg.Endpoint)
	proxy := svctest.NewProxy(t, u.Host)
	dir := t.TempDir()
	viaProxy := func(c *Config) { c.Endpoint = "http://" + proxy.Addr() }
	s := srv.sink(t, dir, viaProxy)
	proxy.Cut()
	write(t, s, changes(1, 5)) // durable in the spool; the upload of 1..3 fails
	crash(s)
	proxy.Restore()
	s = srv.sink(t, dir, viaProxy)
	write(t, s, nil) // uploads the leftover before returning
	srv.check(t, map[string]string{key(1, 3): rows(1, 3)})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.check(t, map[string]string{key(1, 3): rows(1, 3), key(4, 5): rows(4, 5)})
}

// TestS3Outage cuts the server off while events keep coming, retrying like
// the engine; after the restore every change is in exactly one object.
func TestS3Outage(t *testing.T) {
	srv := newServer(t)
	u, _ := url.Parse(srv.cfg.Endpoint)
	proxy := svctest.NewProxy(t, u.Host)
	s := srv.sink(t, t.TempDir(), func(c *Config) { c.Endpoint = "http://" + proxy.Addr() })
	ctx := context.Background()
	failures := 0
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; i <= 60; i += 4 {
		if i == 13 {
			proxy.Cut()
		}
		for {
			err := s.Write(ctx, changes(i, i+3))
			if err == nil {
				break
			}
			failures++
			if failures == 3 {
				proxy.Restore()
			}
			if time.Now().After(deadline) {
				t.Fatalf("still failing: %v", err)
			}
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if failures < 3 {
		t.Fatalf("%d failed writes; the outage was not seen", failures)
	}
	want := map[string]string{}
	for i := 1; i <= 60; i += 3 {
		want[key(i, i+2)] = rows(i, i+2)
	}
	srv.check(t, want)
}

// TestS3MissingBucket: a bucket that does not exist stops the pipeline
// (a permanent error) instead of retrying forever.
func TestS3MissingBucket(t *testing.T) {
	srv := newServer(t)
	s := srv.sink(t, t.TempDir(), func(c *Config) { c.Bucket = srv.cfg.Bucket + "-missing" })
	// Durable in the spool; the upload fails in the background. (No second
	// Write here: it may start before or after the upload failed, so its
	// answer is a race; TestUploadFailureKeepsSpool holds the store to test
	// a Write while the failing upload is in flight.)
	write(t, s, changes(1, 3))
	settle(s) // the sink sees the failed upload
	err := s.Write(context.Background(), changes(5, 5))
	if !component.IsPermanent(err) || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Fatalf("Write: %v", err)
	}
}

// TestS3AuthFailure: keys the server refuses stop the pipeline with an
// error naming the access key id, the server and the keys to fix, never
// the secret; the spool is kept.
func TestS3AuthFailure(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct {
		name, id, secret, code, reason string
	}{
		{"wrong secret", srv.cfg.AccessKeyID, "canary-Pw-7731", "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method."},
		// versitygw's answer (AWS says InvalidAccessKeyId).
		{"unknown key", "sluice-nobody", "canary-Pw-7731", "XAdminUserNotFound", "No user exists with the provided access key ID."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.cfg
			base := rowConfig()
			cfg.Prefix, cfg.Options, cfg.FlushSize, cfg.RotateBytes = base.Prefix, base.Options, base.FlushSize, base.RotateBytes
			cfg.AccessKeyID, cfg.SecretAccessKey = tc.id, tc.secret
			s, err := New(cfg, component.Env{Name: "lake", StateDir: t.TempDir(), Path: "sinks.lake"})
			if err != nil {
				t.Fatal(err)
			}
			write(t, s, changes(1, 3)) // durable in the spool; the upload fails (see TestS3MissingBucket)
			settle(s)                  // the sink sees the failed upload
			// The engine retries a Write that fails transiently; so does
			// the test: the server may close the connection before the SDK
			// has read its answer ("use of closed network connection"),
			// which is a network error, and the next attempt reads it.
			for attempt := 1; ; attempt++ {
				err = s.Write(context.Background(), changes(5, 5))
				if err == nil || component.IsPermanent(err) || attempt == 5 {
					break
				}
				t.Logf("attempt %d: transient: %v", attempt, err)
			}
			prefix := `s3 sink: ` + cfg.Endpoint + ` refused user "` + tc.id + `": upload s3://` + cfg.Bucket + "/"
			suffix := ": " + tc.code + ": " + tc.reason + "; check the access key id and secret access key in sinks.lake.access_key_id and sinks.lake.secret_access_key " +
				"(a ${VAR} there is read from the environment), and that they are keys of this S3 server; the spool is kept and uploaded on the next start"
			if !component.IsPermanent(err) || !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), suffix) ||
				strings.Contains(err.Error(), "canary") {
				t.Fatalf("Write = %v\nwant the permanent error %s<key>%s", err, prefix, suffix)
			}
		})
	}
}

// hashStore is the S3 client, noting for each JSON-lines object how many
// of its requests were given the payload hash of the spool's first reading
// and how many were left to the SDK to hash.
type hashStore struct {
	*client
	mu     sync.Mutex
	hashes []string
}

func (r *hashStore) put(ctx context.Context, key string, obj object, ct string) error {
	err := r.client.put(ctx, key, obj, ct)
	if p, ok := obj.r.(*payloads); ok {
		r.mu.Lock()
		r.hashes = append(r.hashes, fmt.Sprintf("%d hashed, %d not", p.hashed.Load(), p.unhashed.Load()))
		r.mu.Unlock()
	}
	return err
}

// TestS3PayloadHashGiven: over plain HTTP (SigV4 signs each request's
// payload, and the server checks the hash) every request of an upload —
// the parts of a multipart upload, a PutObject — is given its payload's
// SHA-256 from the spool's first reading, so the SDK does not read the
// body once more to hash it; the objects are exactly the records. (Counted
// per request, not per attempt: an SDK retry does not change the figures.)
func TestS3PayloadHashGiven(t *testing.T) {
	srv := newServer(t)
	if !strings.HasPrefix(srv.cfg.Endpoint, "http://") {
		t.Skipf("the S3 server is not plain HTTP (%s): payloads are not signed", srv.cfg.Endpoint)
	}
	s := srv.sink(t, t.TempDir(), func(c *Config) {
		c.FlushSize, c.RotateBytes, c.PartSize, c.MultipartThreshold = 0, 12<<20, 5<<20, 5<<20
	})
	hs := &hashStore{client: s.store.(*client)}
	s.store = hs
	pad := strings.Repeat("x", 1000)
	var evs []event.Event
	var want strings.Builder
	for i := 1; i <= 13000; i++ { // an object of 3 parts, then one PutObject
		e := change(i, event.OpCreate)
		e.After[1] = event.String(pad)
		e.Source.TsUs = baseMs * 1000 // one partition
		evs = append(evs, e)
		fmt.Fprintf(&want, "{\"id\":%d,\"name\":\"%s\",\"__op\":\"c\",\"__lsn\":%d}\n", i, pad, 0x1000*i-8)
	}
	write(t, s, evs)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := srv.keys(t)
	var all strings.Builder
	for _, k := range keys {
		all.Write(srv.get(t, k))
	}
	if len(keys) != 2 || all.String() != want.String() {
		t.Fatalf("objects %v: %d bytes, want 2 objects of %d bytes", keys, all.Len(), want.Len())
	}
	if got, want := strings.Join(hs.hashes, "; "), "3 hashed, 0 not; 1 hashed, 0 not"; got != want {
		t.Errorf("requests per object: %s, want %s", got, want)
	}
}
