package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/config"

	"example.com/shop/internal/awsx"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	orders := awsx.Orders(cfg)
	if _, err := orders.Scan(ctx, nil); err != nil {
		log.Fatal(err)
	}
}
