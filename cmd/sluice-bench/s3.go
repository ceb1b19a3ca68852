package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The s3 phase: sluice's snapshot of product into S3 objects, as JSON lines
// (Debezium envelope) and as Parquet, each against uploading pre-built
// objects of the same sizes (random bytes, built before the clock starts)
// with the same SDK uploader settings (16 MiB parts, 4 at a time), one
// object after another. sluice writes flush_size = rows/10, so each run
// makes 10 objects; it is timed from process start until the tenth object
// is listed.

const s3Objects = 10

func (b *bench) sinkS3() error {
	const sec = "Sink: S3"
	if b.p.Rows%s3Objects != 0 {
		return fmt.Errorf("the s3 phase needs -rows divisible by %d", s3Objects)
	}
	if b.sluiceBin == "" {
		return fmt.Errorf("sluice did not build; nothing to compare")
	}
	vars, err := b.startServiceVars("s3.sh", nil)
	if err != nil {
		return err
	}
	defer b.stopService("s3.sh")
	endpoint, key, secret, region := vars["SLUICE_S3_ENDPOINT"], vars["SLUICE_S3_ACCESS_KEY"], vars["SLUICE_S3_SECRET_KEY"], vars["SLUICE_S3_REGION"]
	if endpoint == "" {
		return fmt.Errorf("scripts/s3.sh start printed no SLUICE_S3_ENDPOINT: %v", vars)
	}
	ac, err := awsconfig.LoadDefaultConfig(b.ctx, awsconfig.WithRegion(region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, secret, "")))
	if err != nil {
		return err
	}
	api := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	up := manager.NewUploader(api, func(u *manager.Uploader) { u.PartSize = 16 << 20; u.Concurrency = 4 })

	for _, f := range []struct{ name, format string }{{"json", "debezium"}, {"parquet", "parquet"}} {
		bucket := "bench-" + f.name
		if _, err := api.CreateBucket(b.ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
		sizes := func(ctx context.Context) ([]int64, error) {
			var out []int64
			p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				for _, o := range page.Contents {
					out = append(out, aws.ToInt64(o.Size))
				}
			}
			return out, nil
		}
		sink := fmt.Sprintf(`  lake:
    type: s3
    inputs: [src]
    bucket: %s
    endpoint: %s
    path_style: true
    region: %s
    access_key_id: %s
    secret_access_key: %s
    format: %s
    flush_size: %d
    rotate_schedule_interval: 1h
`, bucket, strconv.Quote(endpoint), strconv.Quote(region), strconv.Quote(key), strconv.Quote(secret), f.format, b.p.Rows/s3Objects)
		// waitCount counts rows: each listed object holds rows/10.
		rate, rss, err := b.sluiceInto("s3-"+f.name, sink, func(ctx context.Context) (int64, error) {
			sz, err := sizes(ctx)
			return int64(len(sz)) * int64(b.p.Rows/s3Objects), err
		})
		if err != nil {
			return err
		}
		objs, err := sizes(b.ctx)
		if err != nil {
			return err
		}
		var total int64
		bodies := make([][]byte, len(objs))
		for i, n := range objs {
			bodies[i] = make([]byte, n)
			rand.Read(bodies[i])
			total += n
		}
		if _, err := api.CreateBucket(b.ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-upload")}); err != nil {
			return err
		}
		t0 := time.Now()
		for i, body := range bodies {
			if _, err := up.Upload(b.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket + "-upload"), Key: aws.String(fmt.Sprintf("obj-%d", i)), Body: bytes.NewReader(body)}); err != nil {
				return fmt.Errorf("upload: %w", err)
			}
		}
		d := time.Since(t0)
		base := float64(b.p.Rows) / d.Seconds()
		fmt.Fprintf(os.Stderr, "sluice-bench: upload of %d pre-built %s objects (%.1f MB): %.0f rows/s equivalent (%s)\n", len(objs), f.name, mb(total), base, d.Round(time.Millisecond))
		b.rep.add(sec, "sinks.s3_"+f.name+".bytes", f.name+" bytes in S3", mb(total), "MB")
		b.addSinkFigures(sec, "s3_"+f.name, "rows/s", base, rate, rss, fmt.Sprintf("upload of the same %s objects, rows/s", f.name))
	}
	return nil
}
