// The worker: reads orders from SQS and archives them to S3 with aws-sdk-go v1,
// which ignores AWS_ENDPOINT_URL: only transparent capture makes it reach the emulator.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"
	"github.com/aws/aws-sdk-go/service/sqs"
)

func main() {
	sess := session.Must(session.NewSessionWithOptions(session.Options{
		SharedConfigState: session.SharedConfigEnable,
	}))
	queue := sqs.New(sess)
	store := s3.New(sess)

	url, err := queue.GetQueueUrl(&sqs.GetQueueUrlInput{QueueName: aws.String(getenv("QUEUE", "orders"))})
	if err != nil {
		log.Fatalf("queue: %v", err)
	}
	out, err := queue.ReceiveMessage(&sqs.ReceiveMessageInput{QueueUrl: url.QueueUrl, WaitTimeSeconds: aws.Int64(5)})
	if err != nil {
		log.Fatalf("receive: %v", err)
	}
	for i, msg := range out.Messages {
		key := fmt.Sprintf("archive/order-%d.json", i)
		_, err := store.PutObject(&s3.PutObjectInput{
			Bucket: aws.String(getenv("BUCKET", "shop-uploads")),
			Key:    aws.String(key),
			Body:   bytes.NewReader([]byte(*msg.Body)),
		})
		if err != nil {
			log.Fatalf("archive: %v", err)
		}
		fmt.Println("archived", key)
	}
}

func getenv(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
