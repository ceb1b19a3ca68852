package s3

import (
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluice-dev/sluice/component"
)

// sdkError is what the AWS SDK returns for a HeadBucket answered with
// status (HEAD has no body, so no error code).
func sdkError(status int) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "HeadBucket", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: http.StatusText(status)},
		}}}
}

func TestHeadError(t *testing.T) {
	// As the SDK reports it: a response of status 0 around the send error.
	refused := &smithy.OperationError{ServiceID: "S3", OperationName: "HeadBucket", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{}},
			Err: &smithyhttp.RequestSendError{
				Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}},
		}}}
	cases := []struct {
		name      string
		err       error
		permanent bool
		hint      string
	}{
		{"refused", refused, false, ""},
		{"unavailable", sdkError(503), false, ""},
		{"slow down", sdkError(429), false, ""},
		{"internal error", sdkError(500), false, ""},
		{"no such bucket", sdkError(404), true, " (hint: the bucket does not exist: create it, or check bucket and endpoint)"},
		{"unauthorized", sdkError(401), true, " (hint: check access_key_id and secret_access_key)"},
		{"wrong region", sdkError(301), true, " (hint: check region and endpoint, and path_style: true for MinIO, versitygw or Ceph)"},
		{"bad request", sdkError(400), true, " (hint: check region and endpoint, and path_style: true for MinIO, versitygw or Ceph)"},
		{"tls", &smithy.OperationError{ServiceID: "S3", OperationName: "HeadBucket", Err: &smithyhttp.RequestSendError{Err: x509.UnknownAuthorityError{}}}, true,
			"; the server's certificate is not signed by a CA this client trusts: set ca_file to the PEM file of the CA that signed it"},
		{"no credentials", &smithy.OperationError{ServiceID: "S3", OperationName: "HeadBucket", Err: errors.New("failed to retrieve credentials")}, true, ""},
	}
	for _, c := range cases {
		err := headError("b", c.err)
		want := "s3 sink: connect: HEAD bucket b: " + c.err.Error() + c.hint
		if err == nil || err.Error() != want || component.IsPermanent(err) != c.permanent {
			t.Errorf("%s: %v (permanent %v)\nwant %s (permanent %v)", c.name, err, component.IsPermanent(err), want, c.permanent)
		}
	}
	if headError("b", nil) != nil || headError("b", sdkError(403)) != nil {
		t.Error("no error, or 403 (no s3:ListBucket): want nil")
	}
}
