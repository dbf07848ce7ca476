package azure

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/syncfs/syncfs/blobstore"
)

// Standard environment variables OptionsFromEnv reads.
const (
	EnvConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	EnvAccount          = "AZURE_STORAGE_ACCOUNT"
	EnvKey              = "AZURE_STORAGE_KEY"
)

// Upload sizes.
const (
	// singleRequestMax is the largest body sent as one Put Blob request;
	// larger ones are staged as blocks and committed with Put Block List.
	// syncfs's chunks and journal batches are far smaller than this.
	singleRequestMax = 32 << 20
	// blockSize and blockConcurrency shape the staged upload of large
	// bodies: each block in flight holds one buffer of blockSize.
	blockSize        = 8 << 20
	blockConcurrency = 4
)

// storageScope is the OAuth scope of Azure Storage, asked for when checking
// that DefaultAzureCredential can get a token at all.
const storageScope = "https://storage.azure.com/.default"

// Options says which container to use and how to authenticate.
type Options struct {
	Container string // required
	Prefix    string // blob-name prefix inside the container; "/" is appended if missing

	// ConnectionString, when set, gives the account, key and endpoint and
	// overrides the fields below.
	ConnectionString string
	// Account is the storage account name; with Key it signs requests with
	// the shared key, without it DefaultAzureCredential is used.
	Account string
	Key     string
	// Endpoint is the blob service URL, e.g. "http://127.0.0.1:10000/devstoreaccount1";
	// empty means https://ACCOUNT.blob.core.windows.net/.
	Endpoint string
}

// OptionsFromEnv returns Options whose credentials come from the standard
// variables AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with
// AZURE_STORAGE_KEY (without a key, Open uses DefaultAzureCredential). The
// caller fills in Container and Prefix.
func OptionsFromEnv() Options {
	return Options{
		ConnectionString: os.Getenv(EnvConnectionString),
		Account:          os.Getenv(EnvAccount),
		Key:              os.Getenv(EnvKey),
	}
}

// ErrNoContainer reports that the configured container does not exist. It
// is kept apart from blobstore.ErrNotExist on purpose: a missing container
// must never look like a missing object.
var ErrNoContainer = errors.New("container does not exist")

// Store is a blobstore.Store backed by one blob container (and optional
// prefix).
type Store struct {
	client    *container.Client
	container string
	prefix    string
	where     string // service URL, for messages
}

var _ blobstore.Store = (*Store)(nil)

// Open connects to the container described by opts and reads its
// properties, so that a missing container, bad credentials or an
// unreachable endpoint are reported at once, naming the container.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// New builds a Store like Open but sends no request to the blob service;
// call Check to find out whether the container is usable. With
// DefaultAzureCredential it does get a token, so that "no credentials
// anywhere" is reported here, once, with the chain's explanation.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Container == "" {
		return nil, errors.New("open azure store: no container given")
	}
	client, err := newClient(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open azure container %q: %w", opts.Container, err)
	}
	return &Store{
		client:    client,
		container: opts.Container,
		prefix:    normPrefix(opts.Prefix),
		where:     serviceURL(client.URL()),
	}, nil
}

func newClient(ctx context.Context, opts Options) (*container.Client, error) {
	copts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		// blobstore's retry wrapper owns retrying; the SDK's own loop
		// would stack under it and delay a clear failure.
		Retry: policy.RetryOptions{MaxRetries: -1},
	}}
	if opts.ConnectionString != "" {
		c, err := container.NewClientFromConnectionString(opts.ConnectionString, opts.Container, copts)
		if err != nil {
			return nil, fmt.Errorf("parse connection string: %w", err)
		}
		return c, nil
	}
	if opts.Account == "" && opts.Endpoint == "" {
		return nil, fmt.Errorf("no connection string, account or endpoint (set %s, or %s and %s): %w",
			EnvConnectionString, EnvAccount, EnvKey, blobstore.ErrPermission)
	}
	base := opts.Endpoint
	if base == "" {
		base = "https://" + opts.Account + ".blob.core.windows.net/"
	}
	containerURL, err := url.JoinPath(base, url.PathEscape(opts.Container))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", base, err)
	}
	if opts.Key != "" {
		cred, err := container.NewSharedKeyCredential(opts.Account, opts.Key)
		if err != nil {
			return nil, fmt.Errorf("shared key for account %q: %w", opts.Account, err)
		}
		c, err := container.NewClientWithSharedKeyCredential(containerURL, cred, copts)
		if err != nil {
			return nil, fmt.Errorf("new client: %w", err)
		}
		return c, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credentials: %w: %w", blobstore.ErrPermission, err)
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{storageScope}}); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("azure credentials: %w: %w", blobstore.ErrPermission, err)
	}
	c, err := container.NewClient(containerURL, cred, copts)
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	return c, nil
}

// Check reads the container's properties and reports, naming the
// container, why the store cannot be used: unreachable endpoint (wraps
// blobstore.ErrTransient), bad credentials (blobstore.ErrPermission) or a
// missing container (ErrNoContainer).
func (s *Store) Check(ctx context.Context) error {
	_, err := s.client.GetProperties(ctx, nil)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("check azure container %q at %s: %w", s.container, s.where, ctx.Err())
	}
	err = mapErr(err)
	if errors.Is(err, blobstore.ErrNotExist) {
		err = ErrNoContainer
	}
	return fmt.Errorf("check azure container %q at %s: %w", s.container, s.where, err)
}

// blobName turns a store name into the blob's name in the container.
func (s *Store) blobName(name string) string { return s.prefix + name }

// serviceURL strips the container from a container URL, for messages.
func serviceURL(containerURL string) string {
	u, err := url.Parse(containerURL)
	if err != nil {
		return containerURL
	}
	u.RawQuery = "" // never print a SAS token
	u.Path = u.Path[:strings.LastIndex(u.Path, "/")+1]
	return u.String()
}

// normPrefix makes a non-empty prefix end in exactly one "/", so that "a"
// and "a/" name the same store and a store never sees a sibling's blobs.
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}
