// Package azure implements blobstore.Store on Azure Blob Storage with
// github.com/Azure/azure-sdk-for-go/sdk/storage/azblob. Objects are block
// blobs.
//
// Terms used here:
//
//   - Container: the blob container holding the store (Azure's word for a
//     bucket). It must exist; Open reads its properties so that a missing
//     container, bad credentials or an unreachable endpoint fail at once
//     with one error naming the container.
//   - Prefix: a blob-name prefix inside the container under which every
//     object of the store lives ("photos/" turns "config" into
//     "photos/config"). Store names never include it.
//   - Account: the storage account; its blob service is
//     https://ACCOUNT.blob.core.windows.net/ unless Options.Endpoint or the
//     connection string's BlobEndpoint says otherwise (as for Azurite).
//
// Credentials, in order: Options.ConnectionString; Options.Account with
// Options.Key (shared key); else azidentity's DefaultAzureCredential for
// Options.Account (environment, workload identity, managed identity, Azure
// CLI). OptionsFromEnv fills them from the standard variables
// AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT and
// AZURE_STORAGE_KEY.
//
// Errors are mapped onto blobstore's sentinels: BlobNotFound gives
// blobstore.ErrNotExist; 401, 403 and credential failures give
// blobstore.ErrPermission; 408, 429, 5xx (ServerBusy, OperationTimedOut)
// and network failures wrap blobstore.ErrTransient; ContainerNotFound gives
// ErrNoContainer; the 409 BlobAlreadyExists or 412 answer to a
// create-if-absent gives blobstore.ErrExist. The SDK's own retries are
// turned off: blobstore's retry wrapper owns retrying.
package azure
