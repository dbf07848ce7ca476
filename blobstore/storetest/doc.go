// Package storetest is the conformance suite every blobstore.Store
// implementation runs: the local directory store, the fakes in tests, the
// wrappers, and the S3, GCS and Azure backends against their local servers.
//
// Run (or RunWithOptions) takes a constructor that returns a fresh, empty
// store for each subtest and checks the contract written on
// blobstore.Store: whole and ranged round trips, atomic overwrite,
// create-if-absent under a race, ErrNotExist for missing objects, idempotent
// delete, listings in byte order across many objects and shared prefixes, and
// prompt failure on a cancelled context.
//
// Terms:
//   - Large object: the biggest round trip, 20 MiB unless Options.LargeSize or
//     the SYNCFS_STORETEST_LARGE_SIZE variable says otherwise, so that cloud
//     backends can be made to take their multipart path.
//   - Required server: a backend test that needs an emulator (MinIO,
//     fake-gcs-server, Azurite) calls RequireServer when it cannot find one.
//     That skips, unless SYNCFS_REQUIRE_SERVERS=1 (as CI sets it), where it
//     fails, so that a missing server is red and never silently green.
package storetest
