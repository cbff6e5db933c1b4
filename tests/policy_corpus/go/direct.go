package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() {
	cfg, _ := config.LoadDefaultConfig(context.TODO())
	queue := sqs.NewFromConfig(cfg)
	queue.SendMessage(context.TODO(), &sqs.SendMessageInput{})
	queue.ReceiveMessage(context.TODO(), &sqs.ReceiveMessageInput{})
}
