module example.com/shop/worker

go 1.19

require github.com/aws/aws-sdk-go v1.44.0
