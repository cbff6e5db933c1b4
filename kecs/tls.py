"""The per-project CA: a root that signs one name-constrained intermediate, then is forgotten.

`kecs compose` creates it once under `<project>/.kecs/`; the proxy mints a leaf
certificate per AWS host name from the intermediate. The intermediate may only sign
AWS domains and no IP address at all (docs/facts.md, "TLS"): even if its key leaks, it cannot
impersonate any other site to a client that trusts the root. The root key is never
written anywhere, so nothing can mint a second intermediate.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kecs.errors import KecsError

# Domains AWS serves its APIs from; the intermediate can sign nothing else.
AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws", "on.aws")
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSD
)
# cryptography >= 45; Debian's older one (in the proxy image) does without a truststore.
_CAN_WRITE_TRUSTSTORE = hasattr(pkcs12, "serialize_java_truststore")
TRUSTSTORE_PASSWORD = "changeit"  # the JVM default: a truststore holds no secret
VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class CaPaths:
    """Where the CA material lives. `ca/` is the proxy's; `trust/` is mounted into apps."""

    root: str  # <project>/.kecs

    @property
    def intermediate_cert(self) -> str:
        return os.path.join(self.root, "ca", "intermediate.crt")

    @property
    def intermediate_key(self) -> str:
        return os.path.join(self.root, "ca", "intermediate.key")

    @property
    def root_cert(self) -> str:
        return os.path.join(self.root, "trust", "root.crt")

    @property
    def bundle(self) -> str:
        """The usual public roots plus the kecs root: AWS_CA_BUNDLE replaces the default."""
        return os.path.join(self.root, "trust", "bundle.pem")

    @property
    def truststore(self) -> str:
        return os.path.join(self.root, "trust", "truststore.p12")

    def exists(self) -> bool:
        files = [self.intermediate_cert, self.intermediate_key, self.root_cert, self.bundle]
        if _CAN_WRITE_TRUSTSTORE:
            files.append(self.truststore)
        return all(os.path.isfile(p) for p in files)

    def has_intermediate(self) -> bool:
        """What the proxy needs (compose mounts only `ca/` into it)."""
        return os.path.isfile(self.intermediate_cert) and os.path.isfile(self.intermediate_key)


def _common_name(prefix: str, label: str) -> str:
    """`prefix (label)` within X.509's 64 characters, whatever the label (a project's
    directory name can be any length and hold any character)."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in label).strip() or "project"
    name = f"{prefix} ({clean})"
    while len(name.encode()) > 64:  # the limit counts UTF-8 bytes
        clean = clean[:-1]
        name = f"{prefix} ({clean}…)"
    return name


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kecs local development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def name_constraints() -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(domain) for domain in AWS_DOMAINS],
        excluded_subtrees=[
            x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
            x509.IPAddress(ipaddress.ip_network("::/0")),
        ],
    )


def _ca_certificate(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    path_length: int,
) -> x509.Certificate:
    """A name-constrained CA certificate (the constraints sit on the root too: OpenSSL, Go
    and rustls enforce them there as well; Java only on the intermediate)."""
    now = _now() - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(name_constraints(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if signer is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def make_ca(label: str) -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A fresh root and intermediate; returns (root, intermediate, intermediate key)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(_common_name("kecs root CA", label))
    root = _ca_certificate(root_name, root_name, root_key, root_key, path_length=1)
    key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _ca_certificate(
        _name(_common_name("kecs AWS intermediate", label)), root_name, key, root_key, path_length=0
    )
    return root, intermediate, key  # root_key goes out of scope here and is never stored


def mint_leaf(
    host: str, intermediate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A server certificate for `host`, valid for a day, signed by the intermediate."""
    now = _now() - datetime.timedelta(minutes=5)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
        .issuer_name(intermediate.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, leaf_key


def system_roots() -> bytes:
    for path in SYSTEM_BUNDLES:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            continue
    try:
        import certifi  # type: ignore[import-not-found,unused-ignore]

        with open(certifi.where(), "rb") as handle:
            return handle.read()
    except (ImportError, OSError):
        return b""


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def ensure_ca(kecs_dir: str, label: str) -> tuple[CaPaths, bool]:
    """Create the CA under `kecs_dir` unless it is there; returns (paths, created)."""
    paths = CaPaths(kecs_dir)
    if paths.exists():
        return paths, False
    try:
        os.makedirs(kecs_dir, exist_ok=True)
        gitignore = os.path.join(kecs_dir, ".gitignore")
        if not os.path.exists(gitignore):
            _write(
                gitignore, b"# Created by kecs: keys and generated trust material, never commit them.\n*\n"
            )
        root, intermediate, key = make_ca(label)
        pem = serialization.Encoding.PEM
        _write(paths.intermediate_cert, intermediate.public_bytes(pem))
        _write(
            paths.intermediate_key,
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            0o600,
        )
        root_pem = root.public_bytes(pem)
        _write(paths.root_cert, root_pem)
        roots = system_roots()
        _write(paths.bundle, roots + (b"" if roots.endswith(b"\n") or not roots else b"\n") + root_pem)
        if _CAN_WRITE_TRUSTSTORE:
            store = pkcs12.serialize_java_truststore(
                [pkcs12.PKCS12Certificate(root, b"kecs-root")],
                serialization.BestAvailableEncryption(TRUSTSTORE_PASSWORD.encode()),
            )
            _write(paths.truststore, store)
    except OSError as exc:
        raise KecsError(f"{kecs_dir}: cannot create the kecs CA there: {exc.strerror or exc}") from exc
    return paths, True


def load_intermediate(paths: CaPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        with open(paths.intermediate_cert, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(paths.intermediate_key, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError) as exc:
        raise KecsError(f"{paths.root}: cannot load the kecs CA: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KecsError(f"{paths.intermediate_key}: expected an EC private key")
    return cert, key
