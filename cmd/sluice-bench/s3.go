package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
// is listed. Each side runs -runs times, alternating; the fastest run of
// each counts, and the report gives each run's ratio and sluice's CPU time
// per row (the steadier figure on shared cores).

const s3Objects = 10

func (b *bench) sinkS3() error {
	const sec = "Sink: S3"
	if b.p.Rows%s3Objects != 0 {
		return fmt.Errorf("the s3 phase needs -rows divisible by %d", s3Objects)
	}
	if b.sluiceBin == "" {
		return fmt.Errorf("sluice did not build; nothing to compare")
	}
	for _, f := range strings.Split(b.s3Formats, ",") {
		if f != "json" && f != "parquet" {
			return fmt.Errorf("-s3-formats: unknown format %q (json, parquet)", f)
		}
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
	b.s3Endpoint, b.s3Key, b.s3Secret, b.s3Region = endpoint, key, secret, region
	// The sink's settings over plain HTTP: no CRC32 per part (the signed
	// SHA-256 guards the part's bytes), 16 MiB parts, 4 at once.
	up := manager.NewUploader(api, func(u *manager.Uploader) {
		u.PartSize = 16 << 20
		u.Concurrency = 4
		u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})

	for _, f := range []struct {
		name, format string
		target       float64 // issue 15's ratio for the path
	}{{"json", "debezium", 0.8}, {"parquet", "parquet", 0.5}} {
		if !slices.Contains(strings.Split(b.s3Formats, ","), f.name) {
			continue
		}
		var sluiceRuns, uploadRuns []float64
		var cpus []time.Duration
		var peak memMB
		for run := 1; run <= b.runs; run++ {
			bucket := fmt.Sprintf("bench-%s-%d", f.name, run)
			rate, rss, cpu, base, err := b.s3Run(api, up, bucket, f.name, f.format, run)
			if err != nil {
				return err
			}
			sluiceRuns, uploadRuns, cpus = append(sluiceRuns, rate), append(uploadRuns, base), append(cpus, cpu)
			peak = peak.max(rss)
		}
		best := func(v []float64) float64 { return slices.Max(v) }
		spread := func(v []float64) string {
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = fmt.Sprintf("%.0f", x)
			}
			return strings.Join(parts, ", ")
		}
		fmt.Fprintf(os.Stderr, "sluice-bench: s3 %s: sluice rows/s %s; upload rows/s %s; sluice CPU %v\n", f.name, spread(sluiceRuns), spread(uploadRuns), cpus)
		b.addSinkFigures(sec, "s3_"+f.name, "rows/s", best(uploadRuns), best(sluiceRuns), peak,
			fmt.Sprintf("upload of the same %s objects, rows/s (best of %d)", f.name, b.runs), f.target)
		b.rep.setRuns("sinks.s3_"+f.name+".baseline_per_s", uploadRuns)
		b.rep.setRuns("sinks.s3_"+f.name+".sluice_per_s", sluiceRuns)
		cpu := slices.Min(cpus)
		b.rep.add(sec, "sinks.s3_"+f.name+".cpu_us_per_row", fmt.Sprintf("sluice CPU time (user+sys) per row, least of %d runs", b.runs), float64(cpu.Microseconds())/float64(b.p.Rows), "µs")
		worst := sluiceRuns[0] / uploadRuns[0]
		for i := range sluiceRuns {
			worst = min(worst, sluiceRuns[i]/uploadRuns[i])
		}
		b.rep.add(sec, "sinks.s3_"+f.name+".ratio_worst_run", "sluice / upload within one run, the worst run (each run: "+ratios(sluiceRuns, uploadRuns)+")", worst, "×")
	}
	return nil
}

// ratios renders each run's ratio, for the spread.
func ratios(sluice, base []float64) string {
	parts := make([]string, len(sluice))
	for i := range sluice {
		parts[i] = fmt.Sprintf("%.2f×", sluice[i]/base[i])
	}
	return strings.Join(parts, ", ")
}

// s3Run is one run of each side: sluice's snapshot into bucket (timed until
// the tenth object is listed), then the upload of pre-built objects of the
// same sizes into bucket-upload.
func (b *bench) s3Run(api *s3.Client, up *manager.Uploader, bucket, name, format string, run int) (rate float64, rss memMB, cpu time.Duration, base float64, err error) {
	if _, err := api.CreateBucket(b.ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return 0, memMB{}, 0, 0, fmt.Errorf("create bucket %s: %w", bucket, err)
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
`, bucket, strconv.Quote(b.s3Endpoint), strconv.Quote(b.s3Region), strconv.Quote(b.s3Key), strconv.Quote(b.s3Secret), format, b.p.Rows/s3Objects)
	// waitCount counts rows: each listed object holds rows/10.
	rate, rss, cpu, err = b.sluiceIntoCPU(fmt.Sprintf("s3-%s-%d", name, run), sink, func(ctx context.Context) (int64, error) {
		sz, err := sizes(ctx)
		return int64(len(sz)) * int64(b.p.Rows/s3Objects), err
	})
	if err != nil {
		return 0, memMB{}, 0, 0, err
	}
	objs, err := sizes(b.ctx)
	if err != nil {
		return 0, memMB{}, 0, 0, err
	}
	var total int64
	bodies := make([][]byte, len(objs))
	for i, n := range objs {
		bodies[i] = make([]byte, n)
		rand.Read(bodies[i])
		total += n
	}
	if _, err := api.CreateBucket(b.ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-upload")}); err != nil {
		return 0, memMB{}, 0, 0, err
	}
	t0 := time.Now()
	for i, body := range bodies {
		if _, err := up.Upload(b.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket + "-upload"), Key: aws.String(fmt.Sprintf("obj-%d", i)), Body: bytes.NewReader(body)}); err != nil {
			return 0, memMB{}, 0, 0, fmt.Errorf("upload: %w", err)
		}
	}
	d := time.Since(t0)
	base = float64(b.p.Rows) / d.Seconds()
	fmt.Fprintf(os.Stderr, "sluice-bench: upload of %d pre-built %s objects (%.1f MB): %.0f rows/s equivalent (%s)\n", len(objs), name, mb(total), base, d.Round(time.Millisecond))
	if run == 1 {
		b.rep.add("Sink: S3", "sinks.s3_"+name+".bytes", name+" bytes in S3", mb(total), "MB")
	}
	return rate, rss, cpu, base, nil
}
