"""PHP: the AWS SDK for PHP (namespace Aws\\)."""

from __future__ import annotations

import re

import tree_sitter_php

from kecs.scanner.source import Call, Context, LanguageSpec, Use, code_line

QUERY = r"""
(namespace_use_declaration
  (namespace_use_clause (qualified_name) @import.module alias: (name)? @import.alias)) @import
(object_creation_expression [(name) (qualified_name)] @call.callee (arguments)? @call.args) @call
(member_call_expression arguments: (arguments) @call.args) @call
(scoped_call_expression arguments: (arguments) @call.args) @call
(function_call_expression function: (_) @call.callee arguments: (arguments) @call.args) @call
(assignment_expression left: (variable_name) @bind.name right: (_) @bind.value) @bind
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string) @string
(encapsed_string) @string
(array_element_initializer . (_) @pair.key . (_) @pair.value .) @pair
(assignment_expression left: (subscript_expression) @envtarget)
"""

SDK = "aws-sdk-php"
_NOT_SERVICES = {
    "Sdk",
    "Credentials",
    "Exception",
    "Api",
    "Signature",
    "Handler",
    "Middleware",
    "Result",
    "Command",
    "Endpoint",
    "EndpointV2",
    "Retry",
    "ClientSideMonitoring",
    "Arn",
    "Token",
    "DefaultsMode",
    "Identity",
    "Auth",
    "Multipart",
    "Crypto",
}
_CLIENT = re.compile(r"^Aws\\(\w+)\\(\w+Client|S3MultiRegionClient|MultipartUploader)(?:::factory)?$")
_SDK_FACTORY = re.compile(r"^Aws\\Sdk\(\)->create(\w+)$")


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    module = module.lstrip("\\")
    return [(alias or module.split("\\")[-1], module)]


def classify_import(module: str, ctx: Context) -> Use | None:
    parts = module.lstrip("\\").split("\\")
    if parts[0] != "Aws":
        return None
    if len(parts) > 2 and parts[1] not in _NOT_SERVICES:
        service = ctx.catalog.lookup(parts[1])
        return Use(SDK, (service,) if service else ())
    return Use(SDK)


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    match = _CLIENT.match(call.callee)
    if match and match.group(1) not in _NOT_SERVICES:
        service = ctx.catalog.lookup(match.group(1))
        return ("client", Use(SDK, (service,))) if service else None
    factory = _SDK_FACTORY.match(call.callee)
    if factory:
        name = factory.group(1)
        if name in ("Client", "MultiRegionClient"):
            name = call.args[0] if call.args and call.args[0] else ""
        service = ctx.catalog.lookup(name) if name else None
        return "client", Use(SDK, (service,) if service else ())
    return None


# The Aws namespace outside a string: `use Aws\S3\S3Client;`, `new \Aws\Sdk(...)`.
GATE = code_line(rb"""(?<!['"\w\\])\\?Aws\\\w""")

SPEC = LanguageSpec(
    name="php",
    extensions=(".php", ".phtml"),
    grammar=tree_sitter_php.language_php,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string", "encapsed_string"}),
    interpolation_types=frozenset({"variable_name", "member_access_expression", "subscript_expression"}),
    classify_import=classify_import,
    classify_call=classify_call,
    bind_import=bind_import,
    sdk_gate=GATE,
    arg_wrappers=frozenset({"argument"}),
)
