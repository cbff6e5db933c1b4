"""JavaScript and TypeScript: aws-sdk v2 (incl. aws-sdk/clients/*) and @aws-sdk/* v3."""

from __future__ import annotations

import posixpath
import re

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Node

from kecs.scanner.manifests import npm_package
from kecs.scanner.source import Call, Context, LanguageSpec, Layout, Use, code_line, text

_IMPORTS = r"""
(import_statement (import_clause (identifier) @import.alias) source: (string) @import.module) @import
(import_statement (import_clause (namespace_import (identifier) @import.alias))
                  source: (string) @import.module) @import
(import_statement (import_clause (named_imports (import_specifier name: (_) @import.name
                                                                  alias: (_)? @import.alias)))
                  source: (string) @import.module) @import
(import_statement source: (string) @import.module) @import
(call_expression function: (_) @call.callee arguments: (arguments) @call.args) @call
(new_expression constructor: (_) @call.callee arguments: (arguments)? @call.args) @call
(variable_declarator name: (_) @bind.name value: (_) @bind.value) @bind
(assignment_expression left: (identifier) @bind.name right: (_) @bind.value) @bind
(function_declaration name: (identifier) @factory.name parameters: (formal_parameters) @factory.params
  body: (statement_block (return_statement (new_expression constructor: (_) @factory.callee
                                                           arguments: (arguments) @factory.args) @factory.call))) @factory
(variable_declarator name: (identifier) @factory.name
  value: (arrow_function parameters: (formal_parameters) @factory.params
                         body: (new_expression constructor: (_) @factory.callee arguments: (arguments) @factory.args) @factory.call)) @factory
"""
_LINT = r"""
(string) @string
(template_string) @string
(pair key: (_) @pair.key value: (_) @pair.value) @pair
(assignment_expression left: [(member_expression) (subscript_expression)] @envtarget)
"""
_TS_EXTRA = r"""
(import_require_clause (identifier) @import.alias (string) @import.module) @import
"""

V2, V3 = "aws-sdk-js", "aws-sdk-js-v3"
_V2_CLASS = re.compile(r"^aws-sdk(?:/global|/lib/aws|/clients/(\w+))?(?:\.(\w+))?(?:\.DocumentClient)?$")
_V3_MEMBER = re.compile(r"^@aws-sdk/([\w-]+)\.(\w+)(?:\.from)?$")


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    if name is not None:
        return [(alias or name, f"{module}.{name}")]
    if alias is not None:
        return [(alias, module)]
    return []


def bind_names(node: Node, src: bytes, qualified: str) -> list[tuple[str, str]]:
    if node.type != "object_pattern":
        return [(text(node, src), qualified)]
    out = []
    for child in node.named_children:
        if child.type == "shorthand_property_identifier_pattern":
            name = text(child, src)
            out.append((name, f"{qualified}.{name}"))
        elif child.type == "pair_pattern":
            key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
            if key is not None and value is not None and value.type == "identifier":
                out.append((text(value, src), f"{qualified}.{text(key, src)}"))
    return out


def classify_import(module: str, ctx: Context) -> Use | None:
    clients = re.match(r"^aws-sdk/clients/(\w+)$", module)
    if clients:
        service = ctx.catalog.lookup(clients.group(1))
        return Use(V2, (service,) if service else ())
    if module.startswith("aws-sdk/"):
        return Use(V2)
    # "@aws-sdk/client-s3/dist-cjs/..." is still the package @aws-sdk/client-s3.
    package = "/".join(module.split("/")[:2]) if module.startswith("@") else module
    return npm_package(package, ctx.catalog)


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    callee = call.callee
    if callee in ("require", "import") and call.args and call.args[0]:
        use = classify_import(call.args[0], ctx)
        return ("import", use) if use else None
    is_new = call.node.type == "new_expression"
    v2 = _V2_CLASS.match(callee)
    if v2 and is_new:
        name = v2.group(1) or v2.group(2)
        service = ctx.catalog.lookup(name) if name else None
        if service:
            return "client", Use(V2, (service,))
        return None
    v3 = _V3_MEMBER.match(callee)
    if v3:
        package, member = v3.groups()
        use = classify_import(f"@aws-sdk/{package}", ctx)
        if use is None or not use.services:
            return None
        client_like = member.endswith("Client") or member in ("DynamoDBDocument", "Upload")
        if (
            (is_new or callee.endswith(".from"))
            and not member.endswith("Command")
            and (client_like or package.startswith("client-"))
        ):
            return "client", use
    return None


def classify_operation(call: Call, ctx: Context) -> tuple[str, str] | None:
    """JS v3 names an operation by its command: `new PutObjectCommand(...)` from
    @aws-sdk/client-s3 (and the document client's `PutCommand` is DynamoDB's PutItem)."""
    if call.node.type != "new_expression":
        return None
    v3 = _V3_MEMBER.match(call.callee)
    if not v3 or not v3.group(2).endswith("Command"):
        return None
    package, member = v3.groups()
    use = classify_import(f"@aws-sdk/{package}", ctx)
    if use is None or len(use.services) != 1:
        return None
    name = member.removesuffix("Command")
    if package == "lib-dynamodb" and name in _DOCUMENT_COMMANDS:
        name = _DOCUMENT_COMMANDS[name]
    return use.services[0], name


# The document client's commands and the DynamoDB operations they send.
_DOCUMENT_COMMANDS = {"Put": "PutItem", "Get": "GetItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "Query": "Query", "Scan": "Scan", "BatchGet": "BatchGetItem", "BatchWrite": "BatchWriteItem",
                      "TransactGet": "TransactGetItems", "TransactWrite": "TransactWriteItems"}  # fmt: skip


# JS v2's helpers on a client: the DocumentClient's methods (`doc.put(...)` is PutItem) and
# S3's managed upload (one PutObject, or a multipart upload above its part size).
_S3_UPLOAD = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
              "AbortMultipartUpload")  # fmt: skip
HELPERS = {
    **{
        ("dynamodb", method[0].lower() + method[1:]): (operation,)
        for method, operation in _DOCUMENT_COMMANDS.items()
    },
    ("s3", "upload"): _S3_UPLOAD,
}


# A module specifier of an SDK package in a require, import or export line (also the
# `} from "@aws-sdk/..."` that ends a multi-line import).
GATE = code_line(rb"\b(?:require|import|from)\b[^\n]*?['\"`](?:@aws-sdk/|aws-sdk(?:/|['\"`]))")


_SOURCE_SUFFIX = re.compile(r"\.(?:[cm]?[jt]sx?)$")


def module_names(rel_path: str, src: bytes, layout: Layout) -> list[str]:
    """A module is imported by its path without the extension (`src/aws`), a directory's
    index by the directory."""
    stem = _SOURCE_SUFFIX.sub("", rel_path)
    names = [stem]
    if stem == "index" or stem.endswith("/index"):
        names.append(stem.removesuffix("index").rstrip("/"))
    return names


def imported_name(callee: str, rel_path: str, src: bytes) -> str | None:
    """`makeS3` from `import { makeS3 } from "../lib/aws.js"` in src/app/x.js is
    src/lib/aws.makeS3. Only relative specifiers name the project's own modules."""
    if not callee.startswith("."):
        return None
    specifier, _, name = callee.rpartition(".")
    if not specifier or not name:
        return None
    module = posixpath.normpath(posixpath.join(posixpath.dirname(rel_path), specifier))
    if module.startswith("../"):
        return None
    return f"{_SOURCE_SUFFIX.sub('', module).removeprefix('./')}.{name}"


def _spec(name: str, extensions: tuple[str, ...], grammar, query: str) -> LanguageSpec:  # type: ignore[no-untyped-def]
    return LanguageSpec(
        name=name,
        extensions=extensions,
        grammar=grammar,
        query=query,
        lint_query=_LINT,
        string_types=frozenset({"string", "template_string"}),
        interpolation_types=frozenset({"template_substitution"}),
        classify_import=classify_import,
        classify_call=classify_call,
        classify_operation=classify_operation,
        helper_operations=HELPERS,
        bind_import=bind_import,
        sdk_gate=GATE,
        bind_names=bind_names,
        loaders=frozenset({"require"}),
        module_names=module_names,
        imported_name=imported_name,
    )


JAVASCRIPT = _spec("javascript", (".js", ".mjs", ".cjs", ".jsx"), tree_sitter_javascript.language, _IMPORTS)
TYPESCRIPT = _spec(
    "typescript",
    (".ts", ".mts", ".cts"),
    tree_sitter_typescript.language_typescript,
    _IMPORTS + _TS_EXTRA,
)
TSX = _spec("typescript", (".tsx",), tree_sitter_typescript.language_tsx, _IMPORTS + _TS_EXTRA)
