from __future__ import annotations

from tests.conftest import ScanSource, summary


def test_client_and_resource_with_services(scan_source: ScanSource) -> None:
    found = scan_source(
        "app.py",
        """
        import boto3

        s3 = boto3.client("s3")
        table = boto3.resource("dynamodb").Table("users")
        sqs = boto3.client(service_name='sqs', region_name="eu-west-1")
        """,
    )
    assert summary(found) == [
        (1, "import", "boto3", ()),
        (3, "client", "boto3", ("s3",)),
        (4, "client", "boto3", ("dynamodb",)),
        (5, "client", "boto3", ("sqs",)),
    ]
    assert found[1].evidence == 'boto3.client("s3")'
    assert (found[1].column, found[1].language) == (6, "python")


def test_aliases_sessions_and_from_imports(scan_source: ScanSource) -> None:
    found = scan_source(
        "svc/worker.py",
        """
        import boto3 as b
        from boto3 import client as make_client
        from boto3.session import Session

        b.client("sqs")
        make_client("sns")
        session = Session(profile_name="dev")
        session.resource(service_name="dynamodb")
        b.session.Session().client("logs")
        """,
    )
    assert [(f.line, f.services) for f in found if f.kind == "client"] == [
        (5, ("sqs",)),
        (6, ("sns",)),
        (8, ("dynamodb",)),
        (9, ("logs",)),
    ]
    assert {f.path for f in found} == {"svc/worker.py"}


def test_async_sdks_and_dynamic_imports(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.py",
        """
        import importlib
        import aioboto3
        from aiobotocore.session import get_session

        sdk = importlib.import_module("botocore")

        async def main():
            session = aioboto3.Session()
            async with session.client("s3") as s3:
                await s3.list_buckets()
            async with get_session().create_client("secretsmanager") as sm:
                pass
        """,
    )
    assert summary(found) == [
        (2, "import", "aioboto3", ()),
        (3, "import", "aiobotocore", ()),
        (5, "import", "botocore", ()),
        (9, "client", "aioboto3", ("s3",)),
        (11, "client", "aiobotocore", ("secretsmanager",)),
    ]


def test_session_parameter_in_a_file_that_imports_the_sdk(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.py",
        """
        import boto3

        def queue(session: boto3.Session):
            return session.client("sqs")
        """,
    )
    assert [(f.kind, f.services) for f in found] == [("import", ()), ("client", ("sqs",))]


def test_type_stub_imports_name_the_service(scan_source: ScanSource) -> None:
    found = scan_source("a.py", "from mypy_boto3_s3 import S3Client\n")
    assert summary(found) == [(1, "import", "boto3", ("s3",))]


def test_negatives_comments_strings_lookalikes_and_variables(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.py",
        '''
        """Uses boto3.client("s3") in production; import boto3 is done elsewhere."""
        # import boto3
        # boto3.client("sqs")
        import boto
        import boto3_helpers_fake_prefix
        message = "import boto3; boto3.client('dynamodb')"
        s3 = Storage()
        s3.client("s3")
        conn = boto.connect_s3()
        ''',
    )
    assert found == []


def test_unknown_service_names_do_not_become_services(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.py",
        """
        import boto3
        name = "s3"
        boto3.client(name)
        boto3.client("not-a-service")
        """,
    )
    clients = [f for f in found if f.kind == "client"]
    # `name` holds one string in the whole file: it is read as that string; a string that
    # is no AWS service stays unnamed.
    assert [(f.line, f.services) for f in clients] == [(3, ("s3",)), (4, ())]


def test_fstring_service_is_not_a_literal(scan_source: ScanSource) -> None:
    found = scan_source("a.py", 'import boto3\nsvc = "s3"\nboto3.client(f"{svc}")\n')
    assert [f.services for f in found if f.kind == "client"] == [()]


def test_a_factory_returning_a_tuple_of_clients(scan_source: ScanSource) -> None:
    found = scan_source(
        "drain.py",
        """
        import boto3

        def clients():
            return boto3.client("sqs"), boto3.client("sns")

        sqs, sns = clients()
        (queue, topic) = clients()
        sqs.receive_message(QueueUrl="q")
        sns.publish(TopicArn="t", Message="m")
        topic.publish(TopicArn="t", Message="m")
        """,
        kinds=("call",),
    )
    assert [(f.line, f.services, f.operation) for f in found] == [
        (8, ("sqs",), "ReceiveMessage"),
        (9, ("sns",), "Publish"),
        (10, ("sns",), "Publish"),
    ]
