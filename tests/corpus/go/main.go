package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	ctx := context.Background()
	cfg, _ := config.LoadDefaultConfig(ctx)
	stream := kinesis.NewFromConfig(cfg)
	stream.PutRecord(ctx, &kinesis.PutRecordInput{})
	store := s3.NewFromConfig(cfg)
	store.ListBuckets(ctx, &s3.ListBucketsInput{})
}
