package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type Store struct {
	db *dynamodb.Client
}

func (s *Store) Get(ctx context.Context, id string) error {
	_, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("items")})
	return err
}

func Save(ctx context.Context, client *s3.Client, body string) error {
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("items"), Key: aws.String("k")})
	return err
}
