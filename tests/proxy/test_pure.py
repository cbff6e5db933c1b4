from __future__ import annotations

import ssl

import pytest

from kecs.proxy import clienthello, routing
from kecs.proxy.aws import is_aws_host, rewrite_legacy_s3


def real_client_hello(server_name: str | None, alpn: list[str] | None = None) -> bytes:
    """The first flight of Python's own TLS client (OpenSSL), captured from a memory BIO."""
    context = ssl.create_default_context()
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    if server_name is None:
        context.check_hostname = False
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_sni_and_alpn_from_a_real_client_hello() -> None:
    data = real_client_hello("my-bucket.s3.eu-west-1.amazonaws.com", ["http/1.1", "h2"])
    hello = clienthello.parse(data)
    assert hello.server_name == "my-bucket.s3.eu-west-1.amazonaws.com"
    assert hello.alpn == ("http/1.1", "h2")


def test_partial_and_garbage() -> None:
    data = real_client_hello("sqs.us-east-1.amazonaws.com")
    for cut in (0, 3, 5, 40, len(data) - 1):
        with pytest.raises(clienthello.NeedMore) as info:
            clienthello.parse(data[:cut])
        assert info.value.size > cut
    with pytest.raises(clienthello.NotClientHello):
        clienthello.parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(clienthello.NotClientHello):
        clienthello.parse(b"\x16\x03\x01\x00\x10" + b"\x02" + b"\x00" * 15)
    corrupt = bytearray(data)
    corrupt[43] = 0xFF  # session id length past the end
    with pytest.raises(clienthello.NotClientHello):
        clienthello.parse(bytes(corrupt))


def reframe(data: bytes, size: int) -> bytes:
    """The same handshake, cut into TLS records of `size` bytes (as a big hello may be)."""
    body = data[5 : 5 + int.from_bytes(data[3:5], "big")]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(data[:3] + len(c).to_bytes(2, "big") + c for c in chunks)


def test_a_client_hello_split_over_records() -> None:
    data = real_client_hello("dynamodb.us-east-1.amazonaws.com", ["http/1.1"])
    split = reframe(data, 100)
    assert split.count(b"\x16\x03") >= 3
    hello = clienthello.parse(split)
    assert (hello.server_name, hello.alpn) == ("dynamodb.us-east-1.amazonaws.com", ("http/1.1",))
    assert clienthello.parse(reframe(data, 2)).server_name == "dynamodb.us-east-1.amazonaws.com"
    for cut in (6, 104, 105, 106, len(split) - 1):
        with pytest.raises(clienthello.NeedMore) as info:
            clienthello.parse(split[:cut])
        assert cut < info.value.size <= len(split)
    alert_between = split[:105] + b"\x15\x03\x03\x00\x02\x02\x28" + split[105:]
    with pytest.raises(clienthello.NotClientHello, match="interrupted"):
        clienthello.parse(alert_between)


def test_no_server_name() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    assert clienthello.parse(outgoing.read()).server_name is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("s3.amazonaws.com", True),
        ("sqs.us-east-1.amazonaws.com", True),
        ("S3.CN-NORTH-1.AMAZONAWS.COM.CN.", True),
        ("lambda-url.us-east-1.on.aws", True),
        ("dynamodb.us-east-1.api.aws", True),
        ("amazonaws.com.evil.net", False),
        ("notamazonaws.com", False),
        ("example.com", False),
    ],
)
def test_aws_hosts(host: str, expected: bool) -> None:
    assert is_aws_host(host) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("my.bucket.s3-eu-west-1.amazonaws.com", "my.bucket.s3.eu-west-1.amazonaws.com"),
        ("s3-us-west-2.amazonaws.com", "s3.us-west-2.amazonaws.com"),
        ("b.s3-external-1.amazonaws.com", "b.s3.us-east-1.amazonaws.com"),
        ("b.s3-us-gov-west-1.amazonaws.com", "b.s3.us-gov-west-1.amazonaws.com"),
        ("b.s3.eu-west-1.amazonaws.com", None),
        ("b.s3.dualstack.eu-west-1.amazonaws.com", None),
        ("sqs.us-east-1.amazonaws.com", None),
    ],
)
def test_legacy_s3_rewrite(host: str, expected: str | None) -> None:
    assert rewrite_legacy_s3(host) == expected


@pytest.mark.parametrize(
    ("host", "prefix"),
    [
        ("dynamodb.us-east-1.amazonaws.com", "dynamodb"),
        ("streams.dynamodb.eu-west-1.amazonaws.com", "streams.dynamodb"),
        ("my.bucket.s3.dualstack.eu-west-1.amazonaws.com:443", "my.bucket.s3"),
        ("sqs-fips.us-gov-west-1.amazonaws.com", "sqs"),
        ("sts.amazonaws.com.", "sts"),
        ("kinesis.ap-southeast-2.api.aws", "kinesis"),
        ("example.com", None),
    ],
)
def test_host_prefix(host: str, prefix: str | None) -> None:
    assert routing.host_prefix(host) == prefix


def test_signing_service_from_header_or_presigned_query() -> None:
    v4 = [
        (
            b"Authorization",
            b"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/SQS/aws4_request, Signature=x",
        )
    ]
    assert routing.signing_service(v4, b"/") == "sqs"
    v4a = [
        (b"authorization", b"AWS4-ECDSA-P256-SHA256 Credential=AKID/20260101/s3/aws4_request, Signature=x")
    ]
    assert routing.signing_service(v4a, b"/") == "s3"
    assert routing.signing_service([(b"Authorization", b"AWS AKID:c2ln")], b"/") is None  # SigV2: no scope
    presigned = b"/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    assert routing.signing_service([], presigned) == "s3"
    assert routing.signing_service([], b"/k?x=1") is None


def test_parse_routes() -> None:
    routes = routing.parse_routes(
        "http://kecs-localstack:4566", ["dynamodb=http://kecs-moto:5000", " Kinesis=http://k:1"]
    )
    assert routes.default.url == "http://kecs-localstack:4566"
    assert {k: u.port for k, u in routes.by_service.items()} == {"dynamodb": 5000, "kinesis": 1}
    assert [u.host for u in routes.upstreams] == ["kecs-localstack", "kecs-moto", "k"]
    assert routing.parse_routes("http://e:1", [""]).by_service == {}
    with pytest.raises(ValueError, match=r"SERVICE=http\[s\]://HOST:PORT"):
        routing.parse_routes("http://e:1", ["dynamodb"])
    with pytest.raises(ValueError, match="must be http://HOST:PORT or https://"):
        routing.parse_routes("http://e:1", ["dynamodb=ftp://moto:5000"])
    with pytest.raises(ValueError, match="bad port"):
        routing.parse_routes("http://e:99999", [])
    # LocalStack is reached over TLS (its URLs then say https, as AWS's do).
    tls = routing.parse_routes("https://kecs-localstack:4566", []).default
    assert (tls.host, tls.port, tls.tls) == ("kecs-localstack", 4566, True)
    assert routing.parse_routes("https://e", []).default.port == 443


def test_request_service_names_what_the_app_called() -> None:
    scoped = [(b"Authorization", b"AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/sqs/aws4_request, X=y")]
    assert routing.request_service(scoped, b"/", "sqs.us-east-1.amazonaws.com") == "sqs"
    assert routing.request_service([], b"/k", "my-bucket.s3.eu-west-1.amazonaws.com") == "s3"
    assert routing.request_service([], b"/", "streams.dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    assert routing.request_service([], b"/", "example.com") is None
