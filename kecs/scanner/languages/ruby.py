"""Ruby: aws-sdk-<service> gems (v3), the aws-sdk meta gem and v2's monolith."""

from __future__ import annotations

import re

import tree_sitter_ruby

from kecs.scanner.manifests import gem
from kecs.scanner.source import Call, Context, LanguageSpec, Use, code_line

QUERY = r"""
(call arguments: (argument_list)? @call.args) @call
(assignment left: [(identifier) (constant) (instance_variable) (class_variable) (global_variable)] @bind.name
            right: (_) @bind.value) @bind
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string) @string
(pair key: (_) @pair.key value: (_) @pair.value) @pair
(assignment left: (element_reference) @envtarget)
"""

SDK = "aws-sdk-ruby"
_CLIENT = re.compile(r"^(?:::)?Aws::(\w+)::(?:Client|Resource|Presigner|\w+Client)\.new$")


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    return []


def classify_import(module: str, ctx: Context) -> Use | None:
    return gem(module, ctx.catalog)


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


# A require of an SDK gem, or the Aws namespace outside a string (Bundler.require loads
# gems without a require line in the file).
GATE = code_line(rb"""\brequire\b[^\n]*?['"]aws-sdk|(?<!['"\w])Aws::\w""")

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
    sdk_gate=GATE,
)
