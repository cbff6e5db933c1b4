// A worker on aws-sdk-go v1, which ignores AWS_ENDPOINT_URL: it reaches the emulator
// only through kecs's capture. No endpoint, no credentials in code or environment.
package main

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"
	"github.com/aws/aws-sdk-go/service/sqs"
)

func main() {
	sess := session.Must(session.NewSession())
	store := s3.New(sess)
	if _, err := store.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String("go-bucket")}); err != nil {
		log.Fatalf("create bucket: %v", err)
	}
	_, err := store.PutObject(&s3.PutObjectInput{
		Bucket: aws.String("go-bucket"), Key: aws.String("order.json"), Body: strings.NewReader(`{"order": 2}`),
	})
	if err != nil {
		log.Fatalf("put: %v", err)
	}
	queue := sqs.New(sess)
	created, err := queue.CreateQueue(&sqs.CreateQueueInput{QueueName: aws.String("go-queue")})
	if err != nil {
		log.Fatalf("create queue: %v", err)
	}
	if _, err := queue.SendMessage(&sqs.SendMessageInput{QueueUrl: created.QueueUrl, MessageBody: aws.String("from-go")}); err != nil {
		log.Fatalf("send: %v", err)
	}
	out, err := queue.ReceiveMessage(&sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: aws.Int64(1)})
	if err != nil {
		log.Fatalf("receive: %v", err)
	}
	for _, message := range out.Messages {
		fmt.Println("go received:", *message.Body)
	}
	fmt.Println("go done")
	for {
		time.Sleep(time.Hour)
	}
}
