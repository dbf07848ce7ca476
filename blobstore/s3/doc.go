// Package s3 implements blobstore.Store on Amazon S3 and S3-compatible
// services (MinIO, versitygw, Ceph RGW, Backblaze B2, Cloudflare R2, ...)
// with github.com/aws/aws-sdk-go-v2.
//
// Terms used here:
//
//   - Bucket: the S3 bucket holding the store. It must exist; Open checks it
//     with a one-key listing so that a missing bucket, bad credentials or an
//     unreachable endpoint fail at once with one error naming the bucket.
//   - Prefix: a key prefix inside the bucket under which every object of the
//     store lives ("photos/" turns the store's "config" into the key
//     "photos/config"). Store names never include it.
//   - Endpoint: the base URL of an S3-compatible service; empty means AWS.
//     PathStyle puts the bucket in the URL path ("http://host/bucket/key")
//     instead of the host name, which most self-hosted services need.
//
// Credentials come from the SDK's standard chain (environment, shared
// profile, SSO, web identity, instance role) unless Options carries a static
// key pair.
//
// Errors are mapped onto blobstore's sentinels: NoSuchKey and 404 give
// blobstore.ErrNotExist; 403, InvalidAccessKeyId and SignatureDoesNotMatch
// give blobstore.ErrPermission; 5xx answers, throttling and network failures
// wrap blobstore.ErrTransient; a missing bucket gives ErrNoBucket. The SDK's
// own retries are turned off: blobstore's retry wrapper owns retrying, and
// two stacked retry loops would multiply the wait before a clear failure.
package s3
