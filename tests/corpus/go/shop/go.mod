module example.com/shop

go 1.22

require github.com/aws/aws-sdk-go-v2/service/dynamodb v1.30.0
