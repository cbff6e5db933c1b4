"""C#: the AWS SDK for .NET (AWSSDK.* packages, namespaces Amazon.*)."""

from __future__ import annotations

import re

import tree_sitter_c_sharp

from kecs.scanner.source import Call, Context, LanguageSpec, Use, code_line

QUERY = r"""
(using_directive (qualified_name) @import.module) @import
(using_directive (identifier) @import.module .) @import
(using_directive name: (identifier) @import.alias (qualified_name) @import.module) @import
(object_creation_expression type: (_) @call.callee arguments: (argument_list)? @call.args) @call
(invocation_expression function: (_) @call.callee arguments: (argument_list) @call.args) @call
(variable_declarator name: (identifier) @bind.name (_) @bind.value .) @bind
(assignment_expression left: (identifier) @bind.name right: (_) @bind.value) @bind
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string_literal) @string
(verbatim_string_literal) @string
(assignment_expression left: (identifier) @pair.key right: (_) @pair.value) @pair
"""

SDK = "aws-sdk-net"
# Amazon.* namespaces that are not AWS SDK for .NET service clients: the Lambda
# runtime libraries and the CDK.
_NOT_SDK = re.compile(r"^Amazon\.(?:CDK|JSII|Lambda\.(?!Model\b)\w+)")
_CORE = {"Runtime", "Util", "Extensions"}
_CLIENT = re.compile(r"(?:^|\.)Amazon(\w+?)(?:Async)?Client$")
_DI = re.compile(r"\.AddAWSService<I?Amazon(\w+)>$")


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    return [(alias, module)] if alias else []


def classify_import(module: str, ctx: Context) -> Use | None:
    parts = module.split(".")
    if parts[0] != "Amazon" or len(parts) < 2 or _NOT_SDK.match(module):
        return None
    if parts[1] in _CORE:
        return Use(SDK)
    service = ctx.catalog.lookup(parts[1])
    return Use(SDK, (service,)) if service else None


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    for pattern, need_new in ((_CLIENT, True), (_DI, False)):
        match = pattern.search(call.callee)
        if match and (call.node.type == "object_creation_expression") == need_new:
            service = ctx.catalog.lookup(match.group(1))
            if service and (ctx.imported_sdks or "Amazon." in call.callee or not need_new):
                return "client", Use(SDK, (service,))
    return None


# A using directive of an Amazon namespace, a client constructed or registered outside a
# string, or one written with its namespace.
GATE = code_line(
    rb"""\busing[ \t]+(?:static[ \t]+)?(?:\w+[ \t]*=[ \t]*)?Amazon\.|(?<!['"\w])new[ \t]+Amazon\w*Client\b"""
    rb"|AddAWSService<|\bAmazon\.\w+\.Amazon\w*Client\b"
)

SPEC = LanguageSpec(
    name="csharp",
    extensions=(".cs",),
    grammar=tree_sitter_c_sharp.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string_literal", "verbatim_string_literal"}),
    interpolation_types=frozenset({"interpolation"}),
    classify_import=classify_import,
    classify_call=classify_call,
    bind_import=bind_import,
    sdk_gate=GATE,
    arg_wrappers=frozenset({"argument"}),
)
