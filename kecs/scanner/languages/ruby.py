"""Ruby: aws-sdk-<service> gems (v3), the aws-sdk meta gem and v2's monolith."""

from __future__ import annotations

import re

import tree_sitter_ruby

from kecs.scanner.source import Call, Context, LanguageSpec, Use

QUERY = r"""
(call arguments: (argument_list)? @call.args) @call
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string) @string
(pair key: (_) @pair.key value: (_) @pair.value) @pair
(assignment left: (element_reference) @envtarget)
"""

SDK = "aws-sdk-ruby"
_NOT_SERVICES = {"core", "resources", "v2", "v3"}
_CLIENT = re.compile(r"^(?:::)?Aws::(\w+)::(?:Client|Resource|Presigner|\w+Client)\.new$")


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    return []


def classify_import(module: str, ctx: Context) -> Use | None:
    if module == "aws-sdk" or module == "aws-sdk-core" or module == "aws-sdk-resources":
        return Use(SDK)
    match = re.match(r"^aws-sdk-([\w-]+)$", module)
    if not match:
        return None
    if match.group(1) in _NOT_SERVICES:
        return Use(SDK)
    service = ctx.catalog.lookup(match.group(1))
    return Use(SDK, (service,) if service else ())


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    if call.callee in ("require", "gem", "Kernel.require") and call.args and call.args[0]:
        use = classify_import(call.args[0], ctx)
        return ("import", use) if use else None
    match = _CLIENT.match(call.callee)
    if match:
        service = ctx.catalog.lookup(match.group(1))
        if service:
            return "client", Use(SDK, (service,))
    return None


SPEC = LanguageSpec(
    name="ruby",
    extensions=(".rb", ".rake", ".gemspec"),
    grammar=tree_sitter_ruby.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string"}),
    interpolation_types=frozenset({"interpolation"}),
    classify_import=classify_import,
    classify_call=classify_call,
    bind_import=bind_import,
)
