"""The per-project CA: a root that signs one name-constrained intermediate, then is forgotten.

`kecs compose` creates it once: the public trust material (the root, a bundle, a JVM
truststore) under `<project>/.kecs/trust/`, mounted into apps; the intermediate and its
key under the user's state directory (`key_directory`), outside the project, so no build
context (`COPY . /app`) and no app mount (`.:/src`) can reach the key; it is mounted into
the proxies only. The proxy mints a leaf certificate per AWS host name from the
intermediate. The intermediate may only sign
AWS domains and no IP address at all (docs/facts.md, "TLS"): even if its key leaks, it cannot
impersonate any other site to a client that trusts the root. The root key is never
written anywhere, so nothing can mint a second intermediate.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kecs import contract
from kecs.errors import KecsError
from kecs.safefs import existing_kind, make_directories, read_regular, write_file

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


def keys_root(environ: Mapping[str, str] | None = None) -> str:
    """The directory under which every project's CA keys are kept."""
    env = os.environ if environ is None else environ
    home = env.get("HOME") or os.path.expanduser("~")
    base = env.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(base, "kecs", "ca")


def key_directory(project_dir: str, environ: Mapping[str, str] | None = None) -> str:
    """Where a project's intermediate and key live: the user's state directory, one
    directory per project path (0700), never inside the project."""
    import hashlib
    import re

    project_dir = os.path.abspath(project_dir)
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(project_dir))[:40] or "project"
    digest = hashlib.sha256(project_dir.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return os.path.join(keys_root(environ), f"{slug}-{digest}")


@dataclass(frozen=True)
class CaPaths:
    """Where the CA material lives: `ca/` (or `key_dir`) is the proxy's; `trust/` is
    mounted into apps."""

    root: str  # <project>/.kecs (the proxy's /etc/kecs)
    key_dir: str | None = None  # the intermediate and its key; default <root>/ca

    @property
    def ca_dir(self) -> str:
        return self.key_dir or os.path.join(self.root, "ca")

    @property
    def intermediate_cert(self) -> str:
        return os.path.join(self.ca_dir, "intermediate.crt")

    @property
    def intermediate_key(self) -> str:
        return os.path.join(self.ca_dir, "intermediate.key")

    @property
    def issuing_root(self) -> str:
        """The root that signed the intermediate, kept beside it: the trust material in a
        project must be this root, else it is rewritten from it."""
        return os.path.join(self.ca_dir, "root.crt")

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

    @property
    def internal_token(self) -> str:
        return os.path.join(self.ca_dir, contract.INTERNAL_TOKEN)

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


# A name-constraint form can only permit, not forbid a whole name type; permitting a
# domain under .invalid (reserved, RFC 6761: nobody can own it) leaves URI and email
# names with nothing they may be.
_NOWHERE = "kecs.invalid"


def name_constraints() -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[
            *(x509.DNSName(domain) for domain in AWS_DOMAINS),
            x509.UniformResourceIdentifier(_NOWHERE),
            x509.RFC822Name(_NOWHERE),
        ],
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
    if path_length == 0:  # the intermediate: it signs TLS servers and nothing else
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
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


def _read(path: str) -> bytes | None:
    text = read_regular(path)
    return None if text is None else text.encode("utf-8")


def _write_trust(paths: CaPaths, root: x509.Certificate) -> None:
    pem = serialization.Encoding.PEM
    trust = make_directories(paths.root, "trust")
    root_pem = root.public_bytes(pem)
    write_file(os.path.join(trust, "root.crt"), root_pem)
    roots = system_roots()
    write_file(paths.bundle, roots + (b"" if roots.endswith(b"\n") or not roots else b"\n") + root_pem)
    if _CAN_WRITE_TRUSTSTORE:
        store = pkcs12.serialize_java_truststore(
            [pkcs12.PKCS12Certificate(root, b"kecs-root")],
            serialization.BestAvailableEncryption(TRUSTSTORE_PASSWORD.encode()),
        )
        write_file(paths.truststore, store)


def ensure_ca(kecs_dir: str, label: str, key_dir: str | None = None) -> tuple[CaPaths, bool]:
    """The CA under `kecs_dir` (trust) and `key_dir` (intermediate and key; default
    `kecs_dir/ca`), created unless it is there and consistent; returns (paths, created).

    Nothing is written through a link: a `.kecs` directory or key file that is a link
    is refused. The key is created 0600 from its first byte."""
    paths = CaPaths(kecs_dir, key_dir)
    try:
        parent = os.path.dirname(os.path.abspath(kecs_dir))
        make_directories(parent, os.path.basename(kecs_dir))
        gitignore = os.path.join(kecs_dir, ".gitignore")
        if existing_kind(gitignore) is None:
            write_file(gitignore, b"# Created by kecs: generated trust material, never commit it.\n*\n")
        if key_dir is not None:
            os.makedirs(os.path.dirname(key_dir), mode=0o700, exist_ok=True)
            make_directories(os.path.dirname(key_dir), os.path.basename(key_dir), 0o700)
        else:
            make_directories(kecs_dir, "ca", 0o700)
        issuing = _read(paths.issuing_root) if paths.has_intermediate() else None
        if paths.has_intermediate() and issuing is None and key_dir is None:
            issuing = _read(paths.root_cert)  # a CA from before the root was kept beside the key
        if issuing is not None:
            if _read(paths.root_cert) != issuing or not paths.exists():
                _write_trust(paths, x509.load_pem_x509_certificate(issuing))
            return paths, False
        root, intermediate, key = make_ca(label)
        pem = serialization.Encoding.PEM
        write_file(paths.intermediate_key, key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ), 0o600)  # fmt: skip
        write_file(paths.intermediate_cert, intermediate.public_bytes(pem))
        write_file(paths.issuing_root, root.public_bytes(pem))
        _write_trust(paths, root)
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


def ensure_internal_token(paths: CaPaths) -> str:
    """The project's internal token (see kecs.contract.INTERNAL_HEADER), made once, 0600."""
    found = read_internal_token(paths.ca_dir)
    if found:
        return found
    import secrets

    token = secrets.token_hex(32)
    write_file(paths.internal_token, token.encode(), 0o600)
    return token


def read_internal_token(ca_dir: str) -> str | None:
    data = _read(os.path.join(ca_dir, contract.INTERNAL_TOKEN))
    token = data.decode("ascii", "replace").strip() if data else ""
    return token or None


def sign_record(token: str, line: str) -> str:
    """The observed record `line` (a JSON object) with its MAC appended as a last field."""
    import hashlib
    import hmac

    mac = hmac.new(token.encode(), line.encode("utf-8"), hashlib.sha256).hexdigest()
    return f'{line[:-1]},"{contract.OBSERVED_MAC}":"{mac}"}}'


def verify_record(token: str, line: str) -> bool:
    """Whether a signed observed record is as the proxy wrote it."""
    import hmac

    line = line.rstrip("\n")
    marker = f',"{contract.OBSERVED_MAC}":"'
    at = line.rfind(marker)
    if at < 0 or not line.endswith('"}'):
        return False
    return hmac.compare_digest(sign_record(token, line[:at] + "}"), line)
