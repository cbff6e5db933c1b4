"""A certificate the kecs CA mints for a non-AWS name is refused by OpenSSL and Go clients."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from kecs.tls import CaPaths, ensure_ca, load_intermediate, mint_leaf
from tests.conftest import require

PEM = serialization.Encoding.PEM


def client_against_minted(
    ca: CaPaths, host: str, tmp_path: Path, command: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run a TLS client (`{port}` in its arguments) against a server holding a leaf minted for `host`."""
    cert, key = load_intermediate(ca)
    leaf, leaf_key = mint_leaf(host, cert, key)
    chain = tmp_path / f"{host}.pem"
    chain.write_bytes(
        leaf.public_bytes(PEM)
        + cert.public_bytes(PEM)
        + leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello")
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        return subprocess.run(
            [arg.format(port=port) for arg in command], input="", capture_output=True, text=True, timeout=60
        )
    finally:
        thread.join(10)
        listener.close()


@pytest.fixture
def ca(tmp_path: Path) -> CaPaths:
    return ensure_ca(str(tmp_path / ".kecs"), "constraints")[0]


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    go = shutil.which("go")
    require(go is not None, "go (Debian package golang-go)")
    assert go is not None
    src = tmp_path_factory.mktemp("goclient")
    (src / "go.mod").write_text("module example.com/tlsclient\n\ngo 1.19\n")
    (src / "main.go").write_text(
        textwrap.dedent(
            """
            package main

            import (
                "crypto/tls"
                "crypto/x509"
                "fmt"
                "os"
            )

            func main() {
                pem, err := os.ReadFile(os.Args[1])
                if err != nil { panic(err) }
                pool := x509.NewCertPool()
                pool.AppendCertsFromPEM(pem)
                conn, err := tls.Dial("tcp", os.Args[2], &tls.Config{RootCAs: pool, ServerName: os.Args[3]})
                if err != nil { fmt.Println("refused:", err); os.Exit(1) }
                buf := make([]byte, 5)
                n, _ := conn.Read(buf)
                fmt.Println("accepted:", string(buf[:n]))
            }
            """
        )
    )
    env = {
        **os.environ,
        "GOCACHE": str(src / "cache"),
        "GOPATH": str(src / "gopath"),
        "GOPROXY": "off",
        "HOME": str(src),
    }
    subprocess.run(
        [go, "build", "-o", "client", "."], cwd=src, env=env, check=True, capture_output=True, timeout=600
    )
    yield src / "client"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("host", "accepted"), [("sqs.us-east-1.amazonaws.com", True), ("www.example.com", False)]
)
def test_go_client(go_client: Path, ca: CaPaths, tmp_path: Path, host: str, accepted: bool) -> None:
    result = client_against_minted(
        ca, host, tmp_path, [str(go_client), ca.root_cert, "127.0.0.1:{port}", host]
    )
    if accepted:
        assert result.returncode == 0 and result.stdout.strip() == "accepted: hello", result.stdout
    else:
        assert result.returncode == 1
        assert "not authorized to sign for this name" in result.stdout or "not permitted" in result.stdout, (
            result.stdout
        )


@pytest.mark.integration
@pytest.mark.parametrize(("host", "accepted"), [("s3.amazonaws.com", True), ("www.example.com", False)])
def test_openssl_client(ca: CaPaths, tmp_path: Path, host: str, accepted: bool) -> None:
    openssl = shutil.which("openssl")
    require(openssl is not None, "openssl")
    assert openssl is not None
    command = [openssl, "s_client", "-connect", "127.0.0.1:{port}", "-servername", host, "-CAfile", ca.root_cert,
               "-verify_return_error", "-verify_hostname", host]  # fmt: skip
    result = client_against_minted(ca, host, tmp_path, command)
    output = result.stdout + result.stderr
    if accepted:
        assert "Verify return code: 0 (ok)" in output, output  # (s_client may still exit 1 on the peer's EOF)
    else:
        assert result.returncode != 0 and "permitted subtree violation" in output, output


def _leaf_with(names: list[object], ca: CaPaths, usage: object | None = None) -> object:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    cert, key = load_intermediate(ca)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")]))
        .issuer_name(cert.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)  # type: ignore[arg-type]
        .add_extension(
            x509.ExtendedKeyUsage([usage or ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,  # type: ignore[list-item]
        )
    )
    return builder.sign(key, hashes.SHA256())


@pytest.mark.integration
def test_uri_email_and_client_auth_leaves_are_refused(tmp_path: Path) -> None:
    """Only server certificates for AWS names: a leaf with only a URI or email name, or for
    client authentication, fails `openssl verify` against the trust the apps get."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    require(shutil.which("openssl") is not None, "openssl")
    ca, _ = ensure_ca(str(tmp_path / ".kecs"), "nc")
    cert, _ = load_intermediate(ca)
    (tmp_path / "intermediate.pem").write_bytes(cert.public_bytes(PEM))

    def verify(leaf: object, purpose: str = "sslserver") -> subprocess.CompletedProcess[str]:
        path = tmp_path / "leaf.pem"
        path.write_bytes(leaf.public_bytes(PEM))  # type: ignore[attr-defined]
        return subprocess.run(
            ["openssl", "verify", "-purpose", purpose, "-CAfile", ca.bundle, "-untrusted",
             str(tmp_path / "intermediate.pem"), str(path)],
            capture_output=True, text=True,
        )  # fmt: skip

    good = verify(_leaf_with([x509.DNSName("sqs.us-east-1.amazonaws.com")], ca))
    assert good.returncode == 0, good.stdout + good.stderr
    for names in (
        [x509.UniformResourceIdentifier("https://bank.example/")],
        [x509.RFC822Name("ceo@bank.example")],
    ):
        refused = verify(_leaf_with(names, ca))
        assert refused.returncode != 0, f"{names} accepted: {refused.stdout}"
    client = _leaf_with([x509.DNSName("s3.amazonaws.com")], ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    assert verify(client, "sslclient").returncode != 0
