// Package gcs implements blobstore.Store on Google Cloud Storage with
// cloud.google.com/go/storage.
//
// Terms used here:
//
//   - Bucket: the GCS bucket holding the store. It must exist; Open reads
//     its attributes so that a missing bucket, missing credentials or an
//     unreachable endpoint fail at once with one error naming the bucket.
//   - Prefix: an object-name prefix inside the bucket under which every
//     object of the store lives ("photos/" turns "config" into
//     "photos/config"). Store names never include it.
//   - Emulator: when STORAGE_EMULATOR_HOST is set (host:port, or a URL), the
//     SDK talks plain HTTP to that server without credentials, as the SDK
//     documents; fake-gcs-server is what the tests use.
//
// Credentials come from Google's Application Default Credentials.
//
// Errors are mapped onto blobstore's sentinels: a missing object gives
// blobstore.ErrNotExist, 401 and 403 give blobstore.ErrPermission, 408, 429,
// 5xx and network failures wrap blobstore.ErrTransient, a missing bucket
// gives ErrNoBucket, and the 412 answer to a create-if-absent gives
// blobstore.ErrExist. The SDK's own retries are turned off: blobstore's
// retry wrapper owns retrying.
package gcs
