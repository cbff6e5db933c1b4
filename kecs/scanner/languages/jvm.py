"""What Java and Kotlin share: the package layouts of the Java v1/v2 and Kotlin SDKs."""

from __future__ import annotations

import posixpath
import re

from kecs.scanner.source import Call, Context, Layout, Use, code_line

JAVA_V1, JAVA_V2, KOTLIN = "aws-sdk-java", "aws-sdk-java-v2", "aws-sdk-kotlin"

_PACKAGE = re.compile(
    r"^(?P<root>com\.amazonaws|software\.amazon\.awssdk|aws\.sdk\.kotlin)(?=\.|$)"
    r"(?:\.(?P<sub>services|enhanced|transfer)\.(?P<svc>\w+))?"
)
_CLIENT_CALL = re.compile(
    r"^(?P<pkg>(?:com\.amazonaws|software\.amazon\.awssdk|aws\.sdk\.kotlin)\.[\w.]+?)"
    r"\.(?P<cls>[A-Z]\w*(?:Client|ClientBuilder))"
    r"(?:\.(?:builder|create|standard|defaultClient|fromEnvironment|asyncBuilder|crtBuilder"
    r"|crtCreate|invoke))?$"
)
_BARE_CLIENT = re.compile(r"^[A-Z]\w*(?:Client|ClientBuilder)(?:\.\w+)?$")
_SDK_BY_ROOT = {"com.amazonaws": JAVA_V1, "software.amazon.awssdk": JAVA_V2, "aws.sdk.kotlin": KOTLIN}


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    if name == "*" or module.endswith(".*"):
        return [("*", module.removesuffix(".*"))]
    return [(alias or module.split(".")[-1], module)]


# The Lambda Java runtime's interfaces and event classes (aws-lambda-java-core, -events)
# live under the SDK's package names but call no AWS service: a handler, not a client.
_NOT_SDK = ("com.amazonaws.services.lambda.runtime", "com.amazonaws.lambda.thirdparty")


# An SDK package named in code (imported, or written out in full): the package followed
# by a dot, so the bare string "software.amazon.awssdk" is not taken for use.
GATE = code_line(rb"\b(?:software\.amazon\.awssdk|com\.amazonaws|aws\.sdk\.kotlin)\.\w")


_PACKAGE_DECLARATION = re.compile(rb"^[ \t]*package[ \t]+([\w.]+)", re.M)


def package_of(src: bytes) -> str:
    """The file's package declaration (Java, Kotlin), or "" for the default package."""
    found = _PACKAGE_DECLARATION.search(src)
    return found.group(1).decode() if found else ""


def module_names(rel_path: str, src: bytes, layout: Layout) -> list[str]:
    """A class is named by its package and the file's name: com.example.AwsClients."""
    cls = posixpath.splitext(posixpath.basename(rel_path))[0]
    package = package_of(src)
    return [f"{package}.{cls}" if package else cls]


def imported_name(callee: str, rel_path: str, src: bytes) -> str | None:
    """`AwsClients.s3` through `import com.example.AwsClients` is already qualified; a
    class of the file's own package needs no import: it is qualified with that package."""
    if not re.match(r"^[A-Z]\w*\.\w+$", callee):
        return callee
    package = package_of(src)
    return f"{package}.{callee}" if package else callee


def classify_import(module: str, ctx: Context) -> Use | None:
    if module.startswith(_NOT_SDK):
        return None
    match = _PACKAGE.match(module)
    if not match:
        return None
    sdk = _SDK_BY_ROOT[match.group("root")]
    service = None
    if match.group("sub"):  # services.<svc>, enhanced.dynamodb, transfer.s3
        service = ctx.catalog.lookup(match.group("svc"))
    return Use(sdk, (service,) if service else ())


def _client(qualified: str, ctx: Context) -> Use | None:
    match = _CLIENT_CALL.match(qualified)
    if not match:
        return None
    use = classify_import(match.group("pkg"), ctx)
    return use if use is not None and use.services else None


def classify_type(qualified: str, ctx: Context) -> Use | None:
    """The client a declared type is (`software.amazon.awssdk.services.sqs.SqsClient`, or a
    bare `SqsClient` under a wildcard import)."""
    found = classify_call(Call(None, qualified, lambda: ([], {})), ctx)  # type: ignore[arg-type]
    return found[1] if found else None


# Java v1's document APIs: objects over a client whose methods send the service's operations
# (`new DynamoDB(client).getTable("orders").putItem(item)`).
_DOCUMENT_APIS = {"com.amazonaws.services.dynamodbv2.document.DynamoDB": "dynamodb"}


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    document = _DOCUMENT_APIS.get(call.callee)
    if document is not None and (call.node is None or call.node.type == "object_creation_expression"):
        return "client", Use(JAVA_V1, (document,))
    use = _client(call.callee, ctx)
    if use is None and ctx.wildcards and _BARE_CLIENT.match(call.callee):
        # `import software.amazon.awssdk.services.dynamodb.*;` then `DynamoDbClient.create()`:
        # take the wildcard package whose service the class name spells.
        cls = call.callee.split(".")[0].lower()
        for package in ctx.wildcards:
            candidate = _client(f"{package}.{call.callee}", ctx)
            if candidate and package.split(".")[-1].lower() in cls:
                use = candidate
                break
    return ("client", use) if use else None
