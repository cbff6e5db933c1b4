"""Python: boto3, botocore, aioboto3, aiobotocore (and the boto3 type-stub packages)."""

from __future__ import annotations

import re

import tree_sitter_python

from kecs.scanner.services import RETIRED
from kecs.scanner.source import Call, Context, LanguageSpec, Layout, Use

SDKS = ("boto3", "botocore", "aioboto3", "aiobotocore")

QUERY = r"""
(import_statement name: (dotted_name) @import.module) @import
(import_statement name: (aliased_import name: (dotted_name) @import.module
                                        alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (dotted_name) @import.module
                       name: (dotted_name) @import.name) @import
(import_from_statement module_name: (dotted_name) @import.module
                       name: (aliased_import name: (dotted_name) @import.name
                                             alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (dotted_name) @import.module (wildcard_import)) @import
(import_from_statement module_name: (relative_import) @import.module name: (dotted_name) @import.name) @import
(import_from_statement module_name: (relative_import) @import.module
                       name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias)) @import
(call function: (_) @call.callee arguments: (argument_list) @call.args) @call
(assignment left: (identifier) @bind.name right: (_) @bind.value) @bind
(with_item value: (as_pattern (_) @bind.value alias: (as_pattern_target (identifier) @bind.name))) @bind
(function_definition name: (identifier) @factory.name parameters: (parameters) @factory.params
  body: (block (return_statement (call function: (_) @factory.callee arguments: (argument_list) @factory.args) @factory.call))) @factory
(function_definition name: (identifier) @tuple.name body: (block (return_statement (expression_list) @tuple.values))) @tuple
(assignment left: [(pattern_list) (tuple_pattern)] @unpack.names right: (call function: (identifier) @unpack.callee)) @unpack
(function_definition name: (identifier) @def.name parameters: (parameters) @def.params) @def
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string) @string
(keyword_argument name: (identifier) @pair.key value: (_) @pair.value) @pair
(assignment left: (subscript) @envtarget)
"""

# mypy_boto3_s3, types_aiobotocore_dynamodb: stubs for one service's client.
_STUBS = re.compile(r"^(mypy_boto3|types_aiobotocore|types_aioboto3|types_boto3)_(\w+)$")
_CLIENT = re.compile(
    r"^(boto3|aioboto3|aiobotocore|botocore)(?:[.\w]|\(\))*?\.(client|resource|create_client)$"
)
_ANY_CLIENT = re.compile(r"\.(client|resource|create_client)$")


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    if name is not None:
        return [(alias or name.split(".")[-1], f"{module}.{name}")]
    if alias is not None:
        return [(alias, module)]
    root = module.split(".")[0]
    return [(root, root)]


def classify_import(module: str, ctx: Context) -> Use | None:
    parts = module.split(".")
    root = parts[0]
    if root in SDKS:
        # A service's helpers without a client: `from boto3.dynamodb.conditions import Attr`.
        service = ctx.catalog.lookup(parts[1]) if root == "boto3" and len(parts) > 2 else None
        return Use(root, (service,) if service else ())
    stub = _STUBS.match(root)
    if stub:
        service = ctx.catalog.lookup(stub.group(2))
        sdk = "aiobotocore" if "aiobotocore" in stub.group(1) else "boto3"
        return Use(sdk, (service,) if service else ())
    return None


def _service_arg(call: Call, ctx: Context, as_written: bool = False) -> str | None:
    value = call.kwargs.get("service_name") or (call.args[0] if call.args else None)
    # A service botocore no longer ships (qldb) is reported as written: the code still calls it.
    if value and (ctx.catalog.is_service(value) or (as_written and value in RETIRED)):
        return value
    return None


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    if call.callee in ("importlib.import_module", "__import__"):
        use = classify_import(call.args[0], ctx) if call.args and call.args[0] else None
        return ("import", use) if use else None
    match = _CLIENT.match(call.callee)
    if match:
        service = _service_arg(call, ctx, as_written=True)  # the SDK's own client call
        return "client", Use(match.group(1), (service,) if service else ())
    # A session passed in as a parameter: `def f(session): session.client("s3")`.
    # Only in a file that imports an SDK, and only with a real service name.
    if ctx.imported_sdks and _ANY_CLIENT.search(call.callee):
        service = _service_arg(call, ctx)
        if service:
            return "client", Use(ctx.imported_sdks[0], (service,))
    return None


# boto3's managed transfers (S3Transfer: single requests below 8 MiB, multipart above).
_UPLOAD = (
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
)
_DOWNLOAD = ("HeadObject", "GetObject")
HELPERS = {
    ("s3", "upload_file"): _UPLOAD, ("s3", "upload_fileobj"): _UPLOAD,
    ("s3", "download_file"): _DOWNLOAD, ("s3", "download_fileobj"): _DOWNLOAD,
    ("s3", "copy"): ("HeadObject", "CopyObject", "CreateMultipartUpload", "UploadPartCopy", "CompleteMultipartUpload"),
}  # fmt: skip

# An import statement of an SDK or a stub package at the start of a line (Python has no
# other way to reach boto3: `NOTE = "import boto3"` or a docstring's `boto3.client("s3")`
# is not use), or a dynamic import naming one.
GATE = re.compile(
    rb"^[ \t]*(?:import|from)[ \t][^\n#]*?\b(?:boto3|botocore|aioboto3|aiobotocore"
    rb"|(?:mypy_boto3|types_boto3|types_aioboto3|types_aiobotocore)_\w+)\b"
    rb"|(?:__import__|import_module)\(\s*['\"](?:boto3|botocore|aioboto3|aiobotocore)",
    re.M,
)


def module_names(rel_path: str, src: bytes, layout: Layout) -> list[str]:
    """A file's importable dotted names, longest first (`src/app/aws.py`: src.app.aws,
    app.aws, aws): where the project's root on sys.path is is not known."""
    parts = rel_path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return [".".join(parts[i:]) for i in range(len(parts)) if parts[i:]]


def imported_name(callee: str, rel_path: str, src: bytes) -> str | None:
    """`client_for` from `from app.aws import client_for` is app.aws.client_for;
    `from .aws import client_for` is relative to the file's package."""
    dots = len(callee) - len(callee.lstrip("."))
    if not dots:
        return callee
    package = rel_path.split("/")[:-1]
    base = package[: len(package) - (dots - 1)] if dots - 1 <= len(package) else []
    return ".".join([*base, callee[dots:]])


SPEC = LanguageSpec(
    name="python",
    extensions=(".py", ".pyi", ".pyw"),
    grammar=tree_sitter_python.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string"}),
    interpolation_types=frozenset({"interpolation"}),
    classify_import=classify_import,
    classify_call=classify_call,
    bind_import=bind_import,
    sdk_gate=GATE,
    keyword_arg=("keyword_argument", "name", "value"),
    helper_operations=HELPERS,
    module_names=module_names,
    imported_name=imported_name,
)
