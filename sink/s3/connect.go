package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/transient"
)

var _ component.Connector = (*Sink)(nil)

// Connect implements component.Connector: HEAD on the bucket, which checks
// the endpoint, the credentials and the bucket before the first record is
// spooled. A server that does not answer, 429 or a 5xx is a plain error
// (the engine retries at start); a missing bucket, refused credentials
// (401), a wrong region or a TLS failure are Permanent. 403 passes: HEAD
// needs s3:ListBucket, which a policy that only lets sluice write may
// lack; the uploads find out what the keys may do.
func (s *Sink) Connect(ctx context.Context) error {
	c, ok := s.store.(*client)
	if !ok {
		return nil // tests' stores
	}
	_, err := c.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &c.bucket})
	return headError(c.bucket, err)
}

func headError(bucket string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("s3 sink: connect: HEAD bucket %s: %w", bucket, err)
	if fix, ok := transient.TLSFix(err, "ca_file", "use a host name in endpoint that it holds", "endpoint and ca_file"); ok {
		return component.Permanent(fmt.Errorf("%w; %s", err, fix))
	}
	// No answer (the SDK reports it as a response of status 0 around a
	// RequestSendError).
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) || transient.Net(err) {
		return err
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() > 0 {
		switch code := re.HTTPStatusCode(); {
		case code == 429 || code >= 500:
			return err
		case code == 404:
			return component.Permanent(fmt.Errorf("%w (hint: the bucket does not exist: create it, or check bucket and endpoint)", err))
		case code == 403:
			// HEAD needs s3:ListBucket, which a writer's policy may not
			// grant; refused keys are told by the first upload.
			return nil
		case code == 401:
			return component.Permanent(fmt.Errorf("%w (hint: check access_key_id and secret_access_key)", err))
		default:
			return component.Permanent(fmt.Errorf("%w (hint: check region and endpoint, and path_style: true for MinIO, versitygw or Ceph)", err))
		}
	}
	return component.Permanent(err)
}
