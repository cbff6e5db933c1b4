from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kecs.tls import AWS_DOMAINS, ensure_ca, load_intermediate, mint_leaf
from tests.conftest import require

PEM = serialization.Encoding.PEM


@pytest.fixture
def ca(tmp_path: Path):  # type: ignore[no-untyped-def]
    paths, created = ensure_ca(str(tmp_path / ".kecs"), "test")
    assert created
    return paths


def write_leaf(tmp_path: Path, ca, host: str) -> Path:  # type: ignore[no-untyped-def]
    cert, key = load_intermediate(ca)
    leaf, _ = mint_leaf(host, cert, key)
    path = tmp_path / f"{host}.pem"
    path.write_bytes(leaf.public_bytes(PEM))
    return path


def openssl_verify(tmp_path: Path, ca, leaf: Path) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    openssl = shutil.which("openssl")
    require(openssl is not None, "openssl (Debian package openssl)")
    assert openssl is not None
    return subprocess.run(
        [openssl, "verify", "-CAfile", ca.root_cert, "-untrusted", ca.intermediate_cert, str(leaf)],
        capture_output=True,
        text=True,
    )


def test_ca_shape(ca) -> None:  # type: ignore[no-untyped-def]
    cert, _ = load_intermediate(ca)
    constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = constraints.value.permitted_subtrees or []
    assert [n.value for n in permitted if isinstance(n, x509.DNSName)] == list(AWS_DOMAINS)
    # URI and email names may only be under .invalid, which nobody can own: none at all.
    assert {(type(n).__name__, n.value) for n in permitted if not isinstance(n, x509.DNSName)} == {
        ("UniformResourceIdentifier", "kecs.invalid"), ("RFC822Name", "kecs.invalid"),
    }  # fmt: skip
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    excluded = {n.value for n in constraints.value.excluded_subtrees or []}
    assert excluded == {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    bundle = Path(ca.bundle).read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 10  # the public roots are kept
    assert bundle.rstrip().endswith(Path(ca.root_cert).read_text().rstrip())


def test_second_call_reuses(ca, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = Path(ca.intermediate_cert).read_bytes()
    _, created = ensure_ca(str(tmp_path / ".kecs"), "test")
    assert not created and Path(ca.intermediate_cert).read_bytes() == before


@pytest.mark.parametrize(
    "host", ["s3.amazonaws.com", "my.bucket.s3.eu-west-1.amazonaws.com", "sts.amazonaws.com.cn"]
)
def test_openssl_accepts_aws_names(tmp_path: Path, ca, host: str) -> None:  # type: ignore[no-untyped-def]
    result = openssl_verify(tmp_path, ca, write_leaf(tmp_path, ca, host))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("host", ["example.com", "amazonaws.com.evil.net", "www.google.com"])
def test_openssl_rejects_other_names(tmp_path: Path, ca, host: str) -> None:  # type: ignore[no-untyped-def]
    result = openssl_verify(tmp_path, ca, write_leaf(tmp_path, ca, host))
    assert result.returncode != 0
    assert "permitted subtree violation" in result.stdout + result.stderr


def test_python_tls_handshake_trusts_only_aws_names(tmp_path: Path, ca) -> None:  # type: ignore[no-untyped-def]
    """A real handshake through Python's ssl (OpenSSL) with the trust bundle."""
    cert, key = load_intermediate(ca)

    def serve(host: str) -> tuple[ssl.SSLError | None, str]:
        leaf, leaf_key = mint_leaf(host, cert, key)
        chain = tmp_path / f"{host}-chain.pem"
        chain.write_bytes(leaf.public_bytes(PEM) + cert.public_bytes(PEM))
        key_path = tmp_path / f"{host}-key.pem"
        key_path.write_bytes(
            leaf_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(chain, key_path)
        client_ctx = ssl.create_default_context(cafile=ca.bundle)
        import socket

        a, b = socket.socketpair()
        errors: list[Exception] = []

        def server() -> None:
            try:
                with server_ctx.wrap_socket(a, server_side=True) as s:
                    s.recv(1)
            except (ssl.SSLError, OSError) as exc:
                errors.append(exc)

        thread = threading.Thread(target=server)
        thread.start()
        try:
            with client_ctx.wrap_socket(b, server_hostname=host) as c:
                c.sendall(b"x")
                return None, c.version() or ""
        except ssl.SSLError as exc:
            return exc, ""
        finally:
            b.close()
            thread.join(5)

    error, version = serve("sqs.us-east-1.amazonaws.com")
    assert error is None and version.startswith("TLS")
    error, _ = serve("bank.example.com")
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert "permitted subtree violation" in str(error)


def test_any_project_name_makes_a_valid_ca() -> None:
    from kecs.tls import make_ca

    for label in ("x" * 300, "", "日本語のプロジェクト" * 10, "tab\there\nnewline\x00nul", " "):
        root, intermediate, _ = make_ca(label)
        for cert in (root, intermediate):
            names = [a.value for a in cert.subject if a.oid._name == "commonName"]
            assert len(names) == 1 and 0 < len(names[0]) <= 64 and names[0].isprintable()
