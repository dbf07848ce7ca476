package main

// The round trip of TestRoundTrip, on a smaller tree, against the cloud
// stores' local emulators that scripts/servers.sh starts (versitygw,
// fake-gcs-server, Azurite). The binary gets the endpoint with --endpoint
// (S3) and credentials from each SDK's standard environment variables, as
// a user's shell would give them.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

// Variables scripts/servers.sh exports.
const (
	envS3Endpoint  = "SYNCFS_TEST_S3_ENDPOINT"
	envS3AccessKey = "SYNCFS_TEST_S3_ACCESS_KEY"
	envS3SecretKey = "SYNCFS_TEST_S3_SECRET_KEY"
	envS3Region    = "SYNCFS_TEST_S3_REGION"
	envGCSEmulator = "STORAGE_EMULATOR_HOST"
	envAzureConn   = "SYNCFS_TEST_AZURE_CONNECTION_STRING"
)

// bucketName returns a fresh random bucket or container name.
func bucketName(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "syncfs-e2e-" + hex.EncodeToString(b[:])
}

// cleanupContext is for cleanups, which run after t.Context is cancelled.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// s3Store creates a bucket on the S3 test server and returns a store in it.
func s3Store(t *testing.T) store {
	endpoint := os.Getenv(envS3Endpoint)
	if endpoint == "" {
		storetest.RequireServer(t, "S3 server ("+envS3Endpoint+")")
	}
	region := os.Getenv(envS3Region)
	if region == "" {
		region = "us-east-1"
	}
	access, secret := os.Getenv(envS3AccessKey), os.Getenv(envS3SecretKey)
	cfg, err := awsconfig.LoadDefaultConfig(t.Context(), awsconfig.WithRegion(region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(access, secret, "")))
	if err != nil {
		t.Fatal(err)
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(endpoint)
	})
	bucket := bucketName(t)
	if _, err := client.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		var keys []string
		p := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Errorf("list bucket %s: %v", bucket, err)
				return
			}
			for _, o := range page.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
		}
		for _, k := range keys {
			if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
				t.Errorf("delete %s: %v", k, err)
			}
		}
		if _, err := client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
	return store{
		url:   "s3://" + bucket + "/e2e",
		flags: []string{"--endpoint", endpoint},
		env: []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_REGION=" + region,
			"AWS_EC2_METADATA_DISABLED=true"},
	}
}

// gcsStore creates a bucket on the GCS emulator and returns a store in it.
func gcsStore(t *testing.T) store {
	host := os.Getenv(envGCSEmulator)
	if host == "" {
		storetest.RequireServer(t, "GCS emulator ("+envGCSEmulator+")")
	}
	// With STORAGE_EMULATOR_HOST set, the client talks to the emulator
	// without credentials.
	client, err := storage.NewClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bucket := bucketName(t)
	bh := client.Bucket(bucket)
	if err := bh.Create(t.Context(), "syncfs-test", nil); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		defer client.Close()
		it := bh.Objects(ctx, nil)
		for {
			a, err := it.Next()
			if err != nil {
				break // iterator.Done, or an error the bucket delete reports
			}
			if err := bh.Object(a.Name).Delete(ctx); err != nil {
				t.Errorf("delete %s: %v", a.Name, err)
			}
		}
		if err := bh.Delete(ctx); err != nil {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
	return store{url: "gs://" + bucket + "/e2e", env: []string{envGCSEmulator + "=" + host}}
}

// azureStore creates a container on Azurite and returns a store in it.
func azureStore(t *testing.T) store {
	conn := os.Getenv(envAzureConn)
	if conn == "" {
		storetest.RequireServer(t, "Azurite ("+envAzureConn+")")
	}
	name := bucketName(t)
	client, err := container.NewClientFromConnectionString(conn, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Create(t.Context(), nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		// Deleting a container deletes its blobs.
		if _, err := client.Delete(ctx, nil); err != nil {
			t.Errorf("delete container %s: %v", name, err)
		}
	})
	return store{url: "azblob://" + name + "/e2e", env: []string{"AZURE_STORAGE_CONNECTION_STRING=" + conn}}
}

func TestCloudRoundTrip(t *testing.T) {
	for _, c := range []struct {
		scheme string
		make   func(*testing.T) store
	}{
		{blobstore.SchemeS3, s3Store},
		{blobstore.SchemeGCS, gcsStore},
		{blobstore.SchemeAzBlob, azureStore},
	} {
		t.Run(c.scheme, func(t *testing.T) {
			t.Parallel()
			st := c.make(t)
			rng := mrand.New(mrand.NewPCG(seedFor(t), 3))
			tr := genTree(rng, treeOptions{dirs: 12, files: 180, empty: 4, big: 2, bigSize: 2 << 20, symlinks: 8, hardlinks: 2, xattrs: 4})
			st.init(t)
			roundTrip(t, st, tr)
		})
	}
}
