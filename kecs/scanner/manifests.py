"""Dependency manifests and lock files: weaker evidence than code.

One small cataloger per file format: which file names it matches, how it lists the
packages (name and line), and the ecosystem that says what an AWS SDK package is
called there. A manifest says the SDK is available, not that the code calls it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import stat
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from kecs.scanner.model import Finding
from kecs.scanner.services import ServiceCatalog
from kecs.scanner.source import Use, evidence

Package = tuple[str, int]  # (package name as the ecosystem spells it, 1-based line)


class ManifestError(ValueError):
    """A manifest that does not parse; the scan reports it as skipped."""


# -- ecosystems: package name -> SDK use -------------------------------------------------

_PY_SDKS = {"boto3", "botocore", "aioboto3", "aiobotocore"}
_PY_STUBS = re.compile(r"^(mypy-boto3|types-aiobotocore|types-aioboto3|types-boto3)-(.+)$")


def python_package(name: str, extras: str, catalog: ServiceCatalog) -> Use | None:
    name = re.sub(r"[-_.]+", "-", name.lower())
    if name in _PY_SDKS:
        return Use(name)
    if name in ("boto3-stubs", "types-boto3", "types-aiobotocore", "types-aioboto3"):
        services = [catalog.lookup(e.strip()) for e in extras.split(",") if e.strip()]
        sdk = "aiobotocore" if "aiobotocore" in name else "boto3"
        return Use(sdk, tuple(s for s in services if s))
    stub = _PY_STUBS.match(name)
    if stub:
        service = catalog.lookup(stub.group(2))
        return Use("aiobotocore" if "aiobotocore" in name else "boto3", (service,) if service else ())
    return None


_NPM_SERVICE_LIBS = {
    "lib-dynamodb": "dynamodb",
    "util-dynamodb": "dynamodb",
    "lib-storage": "s3",
    "s3-request-presigner": "s3",
    "s3-presigned-post": "s3",
    "cloudfront-signer": "cloudfront",
    "rds-signer": "rds",
    "dsql-signer": "dsql",
}


def npm_package(name: str, catalog: ServiceCatalog) -> Use | None:
    if name == "aws-sdk":
        return Use("aws-sdk-js")
    if name.startswith("@aws-sdk/"):
        package = name.split("/", 1)[1]
        if package.startswith("client-"):
            service = catalog.lookup(package[len("client-") :])
        else:
            service = _NPM_SERVICE_LIBS.get(package)
        return Use("aws-sdk-js-v3", (service,) if service else ())
    return None


_GO_MODULE = re.compile(r"^github\.com/aws/(aws-sdk-go-v2|aws-sdk-go)(?=/|$)(?:/(?:service|feature)/(\w+))?")


def go_module(path: str, catalog: ServiceCatalog) -> Use | None:
    match = _GO_MODULE.match(path)
    if not match:
        return None
    service = catalog.lookup(match.group(2)) if match.group(2) else None
    sdk = "aws-sdk-go-v2" if match.group(1) == "aws-sdk-go-v2" else "aws-sdk-go"
    return Use(sdk, (service,) if service else ())


# Maven artifacts of the SDKs that are libraries, not service clients.
_JAVA_CORE = {
    "bom",
    "core",
    "aws-core",
    "sdk-core",
    "regions",
    "auth",
    "http-client-spi",
    "apache-client",
    "netty-nio-client",
    "url-connection-client",
    "aws-crt-client",
    "protocol-core",
    "utils",
    "profiles",
    "aws-query-protocol",
    "aws-json-protocol",
    "aws-xml-protocol",
    "metrics-spi",
    "http-auth",
    "http-auth-aws",
    "identity-spi",
    "aws-java-sdk",
    "aws-java-sdk-bom",
    "aws-java-sdk-core",
    "aws-sdk-java",
    "aws-config",
    "aws-http",
    "smithy-client",
}
_JAVA_SERVICE_LIBS = {
    "dynamodb-enhanced": "dynamodb",
    "s3-transfer-manager": "s3",
    "dynamodbstreams": "dynamodbstreams",
}


def maven_artifact(group: str, artifact: str, catalog: ServiceCatalog) -> Use | None:
    if group == "com.amazonaws" and artifact.startswith("aws-java-sdk"):
        sdk, name = "aws-sdk-java", artifact.removeprefix("aws-java-sdk").lstrip("-")
    elif group == "software.amazon.awssdk":
        sdk, name = "aws-sdk-java-v2", artifact
    elif group == "aws.sdk.kotlin":
        sdk, name = "aws-sdk-kotlin", artifact.removesuffix("-jvm")
    else:
        return None
    if not name or name in _JAVA_CORE or artifact in _JAVA_CORE:
        return Use(sdk)
    service = _JAVA_SERVICE_LIBS.get(name) or catalog.lookup(name)
    return Use(sdk, (service,) if service else ())


def gem(name: str, catalog: ServiceCatalog) -> Use | None:
    if name in ("aws-sdk", "aws-sdk-core", "aws-sdk-resources", "aws-sdk-v1"):
        return Use("aws-sdk-ruby")
    if name.startswith("aws-sdk-"):
        service = catalog.lookup(name[len("aws-sdk-") :])
        return Use("aws-sdk-ruby", (service,) if service else ())
    return None


def composer_package(name: str, catalog: ServiceCatalog) -> Use | None:
    return Use("aws-sdk-php") if name.lower() == "aws/aws-sdk-php" else None


def nuget_package(name: str, catalog: ServiceCatalog) -> Use | None:
    if not name.lower().startswith("awssdk."):
        return None
    part = name.split(".")[1]
    if part in ("Core", "Extensions"):
        return Use("aws-sdk-net")
    service = catalog.lookup(part)
    return Use("aws-sdk-net", (service,) if service else ())


def crate(name: str, catalog: ServiceCatalog) -> Use | None:
    name = name.replace("_", "-")
    if name.startswith("aws-sdk-"):
        service = catalog.lookup(name[len("aws-sdk-") :])
        return Use("aws-sdk-rust", (service,) if service else ())
    if name in ("aws-config", "aws-types", "aws-credential-types"):
        return Use("aws-sdk-rust")
    return None


# -- helpers ------------------------------------------------------------------------------


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based line of `needle`: quoted first, else as a whole word (not inside `aioboto3`)."""
    for candidate in (f'"{needle}"', f"'{needle}'"):
        index = text.find(candidate, start)
        if index >= 0:
            return text.count("\n", 0, index) + 1
    match = re.compile(rf"(?<![\w.@/-]){re.escape(needle)}(?![\w.-])").search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _toml(text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"invalid TOML: {exc}") from exc
    except RecursionError:
        raise ManifestError("TOML nested too deeply") from None


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"invalid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError:
        raise ManifestError("JSON nested too deeply") from None


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")

# -- catalogers: file -> packages ---------------------------------------------------------

PythonRow = tuple[str, str, int]  # name, extras, line


def _requirements(text: str) -> Iterator[PythonRow]:
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _REQUIREMENT.match(line)
        if match:
            yield match.group(1), match.group(2) or "", number


def _requirement_strings(text: str, specs: Iterable[object]) -> Iterator[PythonRow]:
    for spec in specs:
        if isinstance(spec, str):
            match = _REQUIREMENT.match(spec)
            if match:
                yield match.group(1), match.group(2) or "", line_of(text, spec)


def _pyproject(text: str) -> Iterator[PythonRow]:
    doc = _toml(text)
    project = _dict(doc.get("project"))
    deps = list(project.get("dependencies") or [])  # type: ignore[call-overload]
    for group in _dict(project.get("optional-dependencies")).values():
        deps.extend(group if isinstance(group, list) else [])
    for group in _dict(doc.get("dependency-groups")).values():
        deps.extend(group if isinstance(group, list) else [])
    yield from _requirement_strings(text, deps)
    poetry = _dict(_dict(doc.get("tool")).get("poetry"))
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    tables += [_dict(g).get("dependencies") for g in _dict(poetry.get("group")).values()]
    for table in tables:
        for name, value in _dict(table).items():
            extras = ",".join(_dict(value).get("extras", []) or [])  # type: ignore[arg-type]
            yield name, extras, line_of(text, name)


def _pipfile(text: str) -> Iterator[PythonRow]:
    doc = _toml(text)
    for section in ("packages", "dev-packages"):
        for name, value in _dict(doc.get(section)).items():
            extras = ",".join(_dict(value).get("extras", []) or [])  # type: ignore[arg-type]
            yield name, extras, line_of(text, name)


def _pipfile_lock(text: str) -> Iterator[PythonRow]:
    doc = _dict(_json(text))
    for section in ("default", "develop"):
        for name in _dict(doc.get(section)):
            yield name, "", line_of(text, name)


def _toml_lock(text: str) -> Iterator[PythonRow]:
    doc = _toml(text)
    packages = doc.get("package")
    for package in packages if isinstance(packages, list) else []:
        name = _dict(package).get("name")
        if isinstance(name, str):
            yield name, "", line_of(text, f'name = "{name}"')


def _python(
    parse: Callable[[str], Iterator[PythonRow]],
) -> Callable[[str, ServiceCatalog], Iterator[tuple[Use, str, int]]]:
    def run(text: str, catalog: ServiceCatalog) -> Iterator[tuple[Use, str, int]]:
        for name, extras, line in parse(text):
            use = python_package(name, extras, catalog)
            if use:
                yield use, name + (f"[{extras}]" if extras else ""), line

    return run


def _simple(
    parse: Callable[[str], Iterator[Package]],
    classify: Callable[[str, ServiceCatalog], Use | None],
) -> Callable[[str, ServiceCatalog], Iterator[tuple[Use, str, int]]]:
    def run(text: str, catalog: ServiceCatalog) -> Iterator[tuple[Use, str, int]]:
        for name, line in parse(text):
            use = classify(name, catalog)
            if use:
                yield use, name, line

    return run


def _package_json(text: str) -> Iterator[Package]:
    doc = _dict(_json(text))
    for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        for name in _dict(doc.get(section)):
            yield name, line_of(text, name)


def _package_lock(text: str, catalog: ServiceCatalog) -> Iterator[tuple[Use, str, int]]:
    """npm's lock: packages the root depends on are the app's; the rest (credential
    providers' client-sso, client-sts...) are only installed. Lockfile v1 does not say
    which is which: all count as direct."""
    doc = _dict(_json(text))
    packages = _dict(doc.get("packages"))
    root = _dict(packages.get(""))
    direct: set[str] | None = None
    if "" in packages:  # v2/v3: the root entry lists what the project depends on
        direct = set()
        for section in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
            direct.update(_dict(root.get(section)))
    seen = set()
    entries = [(key.rsplit("node_modules/", 1)[-1], key) for key in packages if key]
    entries += [(name, name) for name in _dict(doc.get("dependencies"))]  # lockfile v1
    for name, key in entries:
        if name in seen:
            continue
        seen.add(name)
        use = npm_package(name, catalog)
        if use is None:
            continue
        if direct is not None and name not in direct:
            use = Use(use.sdk, use.services, transitive=True)
        yield use, name, line_of(text, key)


_YARN_ENTRY = re.compile(r'^"?(@?[^@\s",]+)@', re.M)
_PNPM_ENTRY = re.compile(r"""^ {2}['"]?/?(@?[^@\s'"]+)@\d""", re.M)


def _regex_packages(pattern: re.Pattern[str]) -> Callable[[str], Iterator[Package]]:
    def parse(text: str) -> Iterator[Package]:
        seen = set()
        for match in pattern.finditer(text):
            name = match.group(1)
            if name not in seen:
                seen.add(name)
                yield name, text.count("\n", 0, match.start(1)) + 1

    return parse


_GO_REQUIRE = re.compile(r"^\s*(?:require\s+)?(github\.com/aws/[\w./-]+)\s+v\d", re.M)
_GEMFILE = re.compile(r"""^\s*gem\s+['"]([\w.-]+)['"]""", re.M)
_GEMFILE_LOCK = re.compile(r"^ {4}([\w.-]+) \(", re.M)
_NUGET = re.compile(
    r"""<(?:PackageReference|PackageVersion|package)\s+(?:Include|id)\s*=\s*["']([^"']+)["']""", re.I
)
_GRADLE = re.compile(r"""["']([\w.-]+):([\w.-]+)(?::[^"']*)?["']""")
_GRADLE_MAP = re.compile(r"""group\s*[:=]\s*["']([\w.-]+)["']\s*,\s*name\s*[:=]\s*["']([\w.-]+)["']""")


def _composer_json(text: str) -> Iterator[Package]:
    doc = _dict(_json(text))
    for section in ("require", "require-dev"):
        for name in _dict(doc.get(section)):
            yield name, line_of(text, name)


def _composer_lock(text: str) -> Iterator[Package]:
    doc = _dict(_json(text))
    for section in ("packages", "packages-dev"):
        packages = doc.get(section)
        for package in packages if isinstance(packages, list) else []:
            name = _dict(package).get("name")
            if isinstance(name, str):
                yield name, line_of(text, name)


def _cargo(text: str) -> Iterator[Package]:
    doc = _toml(text)
    tables: list[object] = [doc.get(k) for k in ("dependencies", "dev-dependencies", "build-dependencies")]
    tables.append(_dict(doc.get("workspace")).get("dependencies"))
    for target in _dict(doc.get("target")).values():
        tables += [_dict(target).get(k) for k in ("dependencies", "dev-dependencies")]
    for table in tables:
        for name, value in _dict(table).items():
            package = _dict(value).get("package")
            yield (package if isinstance(package, str) else name), line_of(text, name)


def _cargo_lock(text: str) -> Iterator[Package]:
    for name, _, line in _toml_lock(text):
        yield name, line


MavenRow = tuple[str, str, int]


def _pom(text: str) -> Iterator[MavenRow]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ManifestError(f"invalid XML: {exc}") from exc
    for dependency in root.iter():
        if not dependency.tag.endswith("dependency"):
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in dependency}
        group, artifact = fields.get("groupId", ""), fields.get("artifactId", "")
        if group and artifact:
            yield group, artifact, line_of(text, f"<artifactId>{artifact}</artifactId>")


def _gradle(text: str) -> Iterator[MavenRow]:
    for pattern in (_GRADLE, _GRADLE_MAP):
        for match in pattern.finditer(text):
            yield match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1


def _maven(
    parse: Callable[[str], Iterator[MavenRow]],
) -> Callable[[str, ServiceCatalog], Iterator[tuple[Use, str, int]]]:
    def run(text: str, catalog: ServiceCatalog) -> Iterator[tuple[Use, str, int]]:
        for group, artifact, line in parse(text):
            use = maven_artifact(group, artifact, catalog)
            if use:
                yield use, f"{group}:{artifact}", line

    return run


def _go_mod(text: str) -> Iterator[Package]:
    for match in _GO_REQUIRE.finditer(text):
        yield match.group(1), text.count("\n", 0, match.start(1)) + 1


# -- Dockerfiles: packages installed by RUN lines ------------------------------------------

_DEBIAN_PACKAGES = {
    "python3-boto3": ("python", "boto3"),
    "python3-botocore": ("python", "botocore"),
    "py3-boto3": ("python", "boto3"),
    "py3-botocore": ("python", "botocore"),
    "awscli": ("python", "botocore"),
    "aws-cli": ("python", "botocore"),
    "golang-github-aws-aws-sdk-go-dev": ("go", "github.com/aws/aws-sdk-go"),
    "golang-github-aws-aws-sdk-go-v2-dev": ("go", "github.com/aws/aws-sdk-go-v2"),
}
_INSTALLERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(?:\S*/)?(?:pip3?|uv pip|python3? -m pip|pipx|poetry|pdm|uv)\b.*?\b(?:install|add)$"),
        "python",
    ),
    (re.compile(r"^(?:\S*/)?(?:npm|yarn|pnpm|bun)\b.*?\b(?:i|install|add)$"), "npm"),
    (re.compile(r"^(?:\S*/)?gem install$"), "gem"),
    (re.compile(r"^(?:\S*/)?go (?:get|install)$"), "go"),
    (re.compile(r"^(?:\S*/)?composer (?:global )?require$"), "composer"),
    (re.compile(r"^(?:\S*/)?dotnet add(?: \S+)? package$"), "nuget"),
    (re.compile(r"^(?:\S*/)?cargo (?:add|install)$"), "cargo"),
    (re.compile(r"^(?:\S*/)?(?:apt-get|apt|apk|dnf|yum|microdnf)\b.*?\b(?:install|add)$"), "system"),
)


def _dockerfile_commands(text: str) -> Iterator[tuple[str, int]]:
    """(shell command, line) for every command of every RUN instruction."""
    joined: list[tuple[str, int]] = []
    buffer, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not buffer and line.lstrip().startswith("#"):
            continue
        if not buffer:
            start = number
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        joined.append((buffer + line, start))
        buffer = ""
    if buffer:
        joined.append((buffer, start))
    for instruction, start_line in joined:
        keyword, _, rest = instruction.strip().partition(" ")
        if keyword.upper() == "FROM":
            yield "FROM " + rest, start_line
        if keyword.upper() != "RUN":
            continue
        rest = re.sub(r"^(?:--\S+\s+)*", "", rest.strip())
        if rest.startswith("["):  # exec form
            try:
                rest = " ".join(json.loads(rest))
            except (json.JSONDecodeError, TypeError):
                continue
        for command in re.split(r"&&|\|\||;|\|", rest):
            yield command.strip(), start_line


def _dockerfile(text: str, catalog: ServiceCatalog) -> Iterator[tuple[Use, str, int]]:
    for command, line in _dockerfile_commands(text):
        if command.startswith("FROM "):
            image = command.split()[1] if len(command.split()) > 1 else ""
            if re.match(r"^(?:public\.ecr\.aws/aws-cli/|amazon/)aws-cli\b", image):
                yield Use("botocore"), image, line
            continue
        words = command.split()
        for i in range(1, len(words) + 1):
            head = " ".join(words[:i])
            kind = next((k for pattern, k in _INSTALLERS if pattern.match(head)), None)
            if kind is None:
                continue
            for word in words[i:]:
                if word.startswith("-") or word in ("install", "add"):
                    continue
                word = word.strip("'\"")
                use = _installed(kind, word, catalog)
                if use is not None:
                    yield use, word, line
            break


def _installed(kind: str, word: str, catalog: ServiceCatalog) -> Use | None:
    if kind == "python":
        match = _REQUIREMENT.match(word)
        return python_package(match.group(1), match.group(2) or "", catalog) if match else None
    if kind == "npm":
        name = word if word.startswith("@") and word.count("@") == 1 else word.rsplit("@", 1)[0] or word
        return npm_package(name, catalog)
    if kind == "gem":
        return gem(word.split(":")[0], catalog)
    if kind == "go":
        return go_module(word.split("@")[0], catalog)
    if kind == "composer":
        return composer_package(word.split(":")[0], catalog)
    if kind == "nuget":
        return nuget_package(word, catalog)
    if kind == "cargo":
        return crate(word.split("@")[0], catalog)
    system = _DEBIAN_PACKAGES.get(word.split("=")[0])
    if system is not None:
        ecosystem, name = system
        return python_package(name, "", catalog) if ecosystem == "python" else go_module(name, catalog)
    if word.startswith("ruby-aws-sdk-"):
        return gem(word[len("ruby-") :], catalog)
    return None


@dataclass(frozen=True)
class Cataloger:
    name: str
    language: str
    patterns: tuple[str, ...]  # file-name globs
    parse: Callable[[str, ServiceCatalog], Iterator[tuple[Use, str, int]]]

    def matches(self, filename: str) -> bool:
        return any(fnmatch.fnmatchcase(filename, p) for p in self.patterns)


CATALOGERS: tuple[Cataloger, ...] = (
    Cataloger(
        "requirements",
        "python",
        ("requirements*.txt", "requirements*.in", "constraints*.txt"),
        _python(_requirements),
    ),
    Cataloger("pyproject", "python", ("pyproject.toml",), _python(_pyproject)),
    Cataloger("pipfile", "python", ("Pipfile",), _python(_pipfile)),
    Cataloger("pipfile-lock", "python", ("Pipfile.lock",), _python(_pipfile_lock)),
    Cataloger("python-lock", "python", ("poetry.lock", "uv.lock", "pdm.lock"), _python(_toml_lock)),
    Cataloger("package-json", "javascript", ("package.json",), _simple(_package_json, npm_package)),
    Cataloger(
        "package-lock",
        "javascript",
        ("package-lock.json", "npm-shrinkwrap.json"),
        _package_lock,
    ),
    Cataloger("yarn-lock", "javascript", ("yarn.lock",), _simple(_regex_packages(_YARN_ENTRY), npm_package)),
    Cataloger(
        "pnpm-lock", "javascript", ("pnpm-lock.yaml",), _simple(_regex_packages(_PNPM_ENTRY), npm_package)
    ),
    Cataloger("go-mod", "go", ("go.mod",), _simple(_go_mod, go_module)),
    Cataloger("pom", "java", ("pom.xml",), _maven(_pom)),
    Cataloger("gradle", "java", ("build.gradle", "build.gradle.kts", "*.versions.toml"), _maven(_gradle)),
    Cataloger("gemfile", "ruby", ("Gemfile", "gems.rb"), _simple(_regex_packages(_GEMFILE), gem)),
    Cataloger(
        "gemfile-lock", "ruby", ("Gemfile.lock", "gems.locked"), _simple(_regex_packages(_GEMFILE_LOCK), gem)
    ),
    Cataloger("composer-json", "php", ("composer.json",), _simple(_composer_json, composer_package)),
    Cataloger("composer-lock", "php", ("composer.lock",), _simple(_composer_lock, composer_package)),
    Cataloger(
        "nuget",
        "csharp",
        ("*.csproj", "*.fsproj", "*.vbproj", "packages.config", "Directory.Packages.props"),
        _simple(_regex_packages(_NUGET), nuget_package),
    ),
    Cataloger("cargo", "rust", ("Cargo.toml",), _simple(_cargo, crate)),
    Cataloger("cargo-lock", "rust", ("Cargo.lock",), _simple(_cargo_lock, crate)),
    Cataloger(
        "dockerfile",
        "dockerfile",
        ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "Containerfile"),
        _dockerfile,
    ),
)


def _name_matcher() -> Callable[[str], Cataloger | None]:
    # One regex over every cataloger's globs: the walk asks this of every file name.
    groups = {f"c{i}": c for i, c in enumerate(CATALOGERS)}
    pattern = "|".join(
        f"(?P<{key}>{'|'.join(fnmatch.translate(p) for p in c.patterns)})" for key, c in groups.items()
    )
    regex = re.compile(pattern)

    def match(filename: str) -> Cataloger | None:
        found = regex.match(filename)
        return groups[found.lastgroup] if found and found.lastgroup else None

    return match


cataloger_for = _name_matcher()


SDK_LANGUAGE = {
    "boto3": "python", "botocore": "python", "aioboto3": "python", "aiobotocore": "python",
    "aws-sdk-js": "javascript", "aws-sdk-js-v3": "javascript", "aws-sdk-go": "go",
    "aws-sdk-go-v2": "go", "aws-sdk-java": "java", "aws-sdk-java-v2": "java", "aws-sdk-kotlin": "kotlin",
    "aws-sdk-ruby": "ruby", "aws-sdk-php": "php", "aws-sdk-net": "csharp", "aws-sdk-rust": "rust",
}  # fmt: skip


# Lock files that do not say which packages the project itself depends on: the
# package.json beside them does.
LOCKS_BESIDE_PACKAGE_JSON = ("yarn-lock", "pnpm-lock")


def direct_npm_dependencies(package_json: str) -> set[str] | None:
    """The packages a package.json depends on directly; None when there is none to read."""
    try:
        info = os.lstat(package_json)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 4 * 1024 * 1024:
            return None
        with open(package_json, encoding="utf-8") as handle:
            doc = _dict(_json(handle.read()))
    except (OSError, UnicodeDecodeError, ManifestError):
        return None
    direct: set[str] = set()
    for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        direct.update(_dict(doc.get(section)))
    return direct


def analyze_manifest(
    cataloger: Cataloger, rel_path: str, text: str, catalog: ServiceCatalog, direct: set[str] | None = None
) -> list[Finding]:
    """Findings for one manifest; raises ManifestError when it does not parse. With
    `direct` (the project's own dependencies), other packages are only installed."""
    out = []
    for use, package, line in cataloger.parse(text, catalog):
        if direct is not None and package not in direct:
            use = Use(use.sdk, use.services, transitive=True)
        source_line = text.splitlines()[line - 1] if text else ""
        column = max(source_line.find(package.split("[")[0].split(":")[-1]), 0) + 1
        language = "kotlin" if use.sdk == "aws-sdk-kotlin" else cataloger.language
        if cataloger.language == "dockerfile":
            language = SDK_LANGUAGE.get(use.sdk, "dockerfile")
        out.append(
            Finding(
                path=rel_path,
                line=line,
                column=column,
                language=language,
                sdk=use.sdk,
                services=tuple(sorted(set(use.services))),
                kind="installed" if use.transitive else "manifest",
                evidence=evidence(source_line.strip() or package),
            )
        )
    return out
