from __future__ import annotations

from tests.conftest import ScanSource, summary


def test_v1_session_and_service_clients(scan_source: ScanSource) -> None:
    found = scan_source(
        "main.go",
        """
        package main

        import (
            "fmt"

            "github.com/aws/aws-sdk-go/aws/session"
            "github.com/aws/aws-sdk-go/service/s3"
            q "github.com/aws/aws-sdk-go/service/sqs"
            "github.com/aws/aws-sdk-go/service/s3/s3manager"
        )

        func main() {
            sess := session.Must(session.NewSession())
            svc := s3.New(sess)
            queue := q.New(sess)
            up := s3manager.NewUploader(sess)
            fmt.Println(svc, queue, up)
        }
        """,
    )
    assert summary(found) == [
        (6, "import", "aws-sdk-go", ()),
        (7, "import", "aws-sdk-go", ("s3",)),
        (8, "import", "aws-sdk-go", ("sqs",)),
        (9, "import", "aws-sdk-go", ("s3",)),
        (14, "client", "aws-sdk-go", ("s3",)),
        (15, "client", "aws-sdk-go", ("sqs",)),
        (16, "client", "aws-sdk-go", ("s3",)),
    ]


def test_v2_new_from_config(scan_source: ScanSource) -> None:
    found = scan_source(
        "cmd/app/main.go",
        """
        package main

        import (
            "context"
            "github.com/aws/aws-sdk-go-v2/config"
            "github.com/aws/aws-sdk-go-v2/service/dynamodb"
            cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
            "github.com/aws/aws-sdk-go-v2/feature/s3/manager"
        )

        func main() {
            cfg, _ := config.LoadDefaultConfig(context.TODO())
            db := dynamodb.NewFromConfig(cfg)
            logs := cwl.NewFromConfig(cfg)
            _ = manager.NewUploader(nil)
            _, _ = db, logs
        }
        """,
    )
    assert summary(found) == [
        (5, "import", "aws-sdk-go-v2", ()),
        (6, "import", "aws-sdk-go-v2", ("dynamodb",)),
        (7, "import", "aws-sdk-go-v2", ("logs",)),
        (8, "import", "aws-sdk-go-v2", ("s3",)),
        (13, "client", "aws-sdk-go-v2", ("dynamodb",)),
        (14, "client", "aws-sdk-go-v2", ("logs",)),
        (15, "client", "aws-sdk-go-v2", ("s3",)),
    ]


def test_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "main.go",
        """
        package main

        // import "github.com/aws/aws-sdk-go/service/s3"
        import "github.com/example/aws-sdk-go-wrapper/s3"

        func main() {
            s := "github.com/aws/aws-sdk-go/service/sqs"
            _ = s3.New(s)
        }
        """,
    )
    assert found == []


def test_clients_declared_by_type_as_parameters_and_struct_fields(scan_source: ScanSource) -> None:
    """A client handed in (`client *s3.Client`) or held in a struct field (`s.db`): found by
    its declared type, whatever the variable is called."""
    found = scan_source(
        "store.go",
        """
        package store

        import (
            "context"

            "github.com/aws/aws-sdk-go-v2/aws"
            "github.com/aws/aws-sdk-go-v2/service/dynamodb"
            "github.com/aws/aws-sdk-go-v2/service/s3"
            "github.com/aws/aws-sdk-go/service/sqs/sqsiface"
        )

        type Store struct {
            db *dynamodb.Client
        }

        func (s *Store) Get(ctx context.Context) {
            s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("items")})
        }

        func Save(ctx context.Context, whatever *s3.Client, q sqsiface.SQSAPI) {
            whatever.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b")})
            q.SendMessage(nil)
        }
        """,
        kinds=("call",),
    )
    calls = {(f.services, f.operation, f.resource) for f in found if f.kind == "call"}
    assert calls == {
        (("dynamodb",), "GetItem", "TableName=items"),
        (("s3",), "PutObject", "Bucket=b"),
        (("sqs",), "SendMessage", ""),
    }, calls
