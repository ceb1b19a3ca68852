package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/sluice-dev/sluice/component"
)

// objectStore puts objects; *client is the S3 one (tests of the spool
// logic without a server use another).
type objectStore interface {
	put(ctx context.Context, key string, obj object, contentType string) error
}

// payloadHasher is implemented by stores that sign request payloads: for
// an object of size bytes, hashPart returns the length of the byte ranges
// its requests send (the whole object, or the parts of a multipart upload),
// so that the spool's first reading can hash them (payloads.sums); 0 when
// no hash is wanted or the ranges are not known in advance.
type payloadHasher interface {
	hashPart(size int64) int64
}

// object is an object's bytes: a built Parquet file, or a JSON-lines
// object read straight from its sealed spool (payloads). name is the file
// it is read from, for messages and tests.
type object struct {
	name string
	r    io.ReaderAt
	size int64
}

// sdkAttempts, when positive, caps the SDK's own attempts per request (the
// engine retries failed Writes anyway); tests lower it to see outages fast.
var sdkAttempts = 0

// client is the S3 side: one bucket, PutObject for small objects and the
// SDK's multipart uploader for large ones.
type client struct {
	bucket    string
	api       *s3.Client
	up        *manager.Uploader
	threshold int64
	partSize  int64
	// signed: the endpoint is plain HTTP, where the SDK signs each
	// request's payload (SigV4 with the body's SHA-256, which S3 checks);
	// over HTTPS it sends UNSIGNED-PAYLOAD (TLS protects the body) and
	// hashes nothing.
	signed  bool
	refused component.AuthError // the message of refused credentials, less the reason
}

// newClient builds the client; env names the sink's keys in messages.
func newClient(cfg Config, env component.Env) (*client, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, component.Permanent(fmt.Errorf("s3 sink: ca_file: %w", err))
		}
		opts = append(opts, awsconfig.WithCustomCABundle(bytes.NewReader(pem)))
	}
	// Loading reads the environment and shared config files; it does not
	// touch the network.
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("s3 sink: AWS configuration: %w", err))
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	signed := false
	if u, err := url.Parse(cfg.Endpoint); err == nil && strings.EqualFold(u.Scheme, "http") {
		signed = true
	}
	api := s3.NewFromConfig(ac, func(o *s3.Options) {
		if signed {
			o.APIOptions = append(o.APIOptions, addKnownPayloadHash)
		}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if sdkAttempts > 0 {
			o.RetryMaxAttempts = sdkAttempts
		}
		// Checksums only where S3 requires them: S3-compatible servers
		// differ in their support of the newer flexible checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	up := manager.NewUploader(api, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = cfg.UploadConcurrency
		u.LeavePartsOnError = false
		if signed {
			// The uploader adds a CRC32 checksum to every part by
			// default, which over plain HTTP costs a reading of the part
			// of its own (over HTTPS it is a trailer, computed as the
			// part is sent). A signed part's SHA-256, which S3 checks,
			// already guards its bytes; leave it out, as PutObject does.
			u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	})
	threshold := cfg.MultipartThreshold
	if threshold <= 0 {
		threshold = cfg.PartSize
	}
	refused := component.AuthError{Component: "s3 sink", User: cfg.AccessKeyID, Server: cfg.Endpoint,
		Keys:   env.Key("access_key_id") + " and " + env.Key("secret_access_key"),
		Secret: "the access key id and secret access key",
		Hint:   "that they are keys of this S3 server; the spool is kept and uploaded on the next start"}
	if cfg.Endpoint == "" {
		refused.Server = "AWS S3 (" + ac.Region + ")"
	}
	if cfg.AccessKeyID == "" {
		refused.Keys = "the AWS environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials; " +
			env.Key("access_key_id") + " is not set)"
	}
	return &client{bucket: cfg.Bucket, api: api, up: up, threshold: threshold, partSize: cfg.PartSize, signed: signed, refused: refused}, nil
}

// hashPart implements payloadHasher, following put: an object below the
// threshold is one PutObject, and so is one of at most part_size bytes
// (the uploader sends it whole); a larger one goes in parts of part_size,
// unless that makes more parts than S3 allows (the uploader then picks a
// larger part size itself, and the SDK hashes the parts).
func (c *client) hashPart(size int64) int64 {
	switch {
	case !c.signed || size <= 0:
		return 0
	case size < c.threshold || size <= c.partSize:
		return size
	case size/c.partSize >= int64(manager.MaxUploadParts):
		return 0
	}
	return c.partSize
}

// addKnownPayloadHash gives the SDK the SHA-256 of a PutObject or
// UploadPart body that is a range of a payloads object whose first reading
// hashed that very range, so that its ComputePayloadSHA256 step (which
// skips a request whose hash is set) does not read the body once more to
// hash it. Any other body is left to the SDK.
func addKnownPayloadHash(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("SluiceKnownPayloadHash",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			var body io.Reader
			switch p := in.Parameters.(type) {
			case *s3.PutObjectInput:
				body = p.Body
			case *s3.UploadPartInput:
				body = p.Body
			}
			if h := knownPayloadHash(body); h != "" {
				ctx = v4.SetPayloadHash(ctx, h)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// knownPayloadHash returns the hash the first reading of a payloads object
// computed for body, a section (possibly of a section) of it that nothing
// has read yet (the SDK hashes a body from where it stands); "" when there
// is none.
func knownPayloadHash(body io.Reader) string {
	sr, ok := body.(*io.SectionReader)
	if !ok {
		return ""
	}
	if pos, err := sr.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return ""
	}
	var off int64
	size := sr.Size()
	for {
		r, base, _ := sr.Outer()
		off += base
		switch o := r.(type) {
		case *io.SectionReader: // the uploader's part of put's body
			sr = o
			continue
		case *payloads:
			return o.sum(byteRange{off, size})
		}
		return ""
	}
}

// put uploads obj as key, in parts when it is large. Putting the same key
// again replaces the object, which is what makes re-uploads after a crash
// harmless. The body is an io.SectionReader over obj, so the uploader
// reads each part where it lies (no part is copied into a buffer of its
// own) and PutObject can read the body again after hashing it.
func (c *client) put(ctx context.Context, key string, obj object, contentType string) error {
	body := io.NewSectionReader(obj.r, 0, obj.size)
	var err error
	if obj.size < c.threshold {
		_, err = c.api.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &c.bucket, Key: &key, Body: body, ContentLength: aws.Int64(obj.size), ContentType: &contentType,
		})
	} else {
		_, err = c.up.Upload(ctx, &s3.PutObjectInput{Bucket: &c.bucket, Key: &key, Body: body, ContentType: &contentType})
	}
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && refusedCode(ae.ErrorCode()) {
			a := c.refused
			a.Reason = "upload s3://" + c.bucket + "/" + key + ": " + ae.ErrorCode() + ": " + ae.ErrorMessage()
			return component.AuthFailed(a)
		}
		return classify(fmt.Errorf("s3 sink: upload s3://%s/%s: %w", c.bucket, key, err))
	}
	return nil
}

// classify marks errors that retrying cannot fix (a missing bucket, bad
// credentials) as permanent, so the pipeline stops with its checkpoint
// intact and the spool kept, instead of retrying forever.
func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket", "InvalidBucketName", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "AllAccessDisabled":
			return component.Permanent(fmt.Errorf("%w (hint: check bucket, region, endpoint and credentials; the spool is kept and uploaded on the next start)", err))
		}
	}
	return err
}

// refusedCode reports S3 error codes of credentials the server refuses
// (not of missing permissions: AccessDenied). versitygw, the test server,
// answers an unknown access key with XAdminUserNotFound (status 404)
// where AWS says InvalidAccessKeyId.
func refusedCode(code string) bool {
	switch code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "XAdminUserNotFound":
		return true
	}
	return false
}
