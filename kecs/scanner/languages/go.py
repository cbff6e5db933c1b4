"""Go: aws-sdk-go (v1) and aws-sdk-go-v2."""

from __future__ import annotations

import posixpath
import re

import tree_sitter_go

from kecs.scanner.manifests import go_module
from kecs.scanner.source import Call, Context, LanguageSpec, Layout, Use

QUERY = r"""
(import_spec name: (_)? @import.alias path: (_) @import.module) @import
(call_expression function: (_) @call.callee arguments: (argument_list) @call.args) @call
(short_var_declaration left: (expression_list . (identifier) @bind.name) right: (expression_list . (_) @bind.value)) @bind
(assignment_statement left: (expression_list . (identifier) @bind.name) right: (expression_list . (_) @bind.value)) @bind
(var_spec name: (identifier) @bind.name value: (expression_list . (_) @bind.value)) @bind
(function_declaration name: (identifier) @factory.name parameters: (parameter_list) @factory.params
  body: (block (statement_list (return_statement (expression_list . (call_expression
    function: (_) @factory.callee arguments: (argument_list) @factory.args) @factory.call))))) @factory
"""

# Parameters and struct fields declared with a client's type (`client *s3.Client`).
TYPED_QUERY = r"""
(parameter_declaration name: (identifier) @typed.name type: (_) @typed.type) @typed
(field_declaration name: (field_identifier) @typed.name type: (_) @typed.type) @typed
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(interpreted_string_literal) @string
(raw_string_literal) @string
(keyed_element . (literal_element (identifier) @pair.key) . (literal_element (_) @pair.value)) @pair
(assignment_statement
  left: (expression_list (selector_expression field: (field_identifier) @pair.key))
  right: (expression_list (_) @pair.value)) @pair
"""

V1, V2 = "aws-sdk-go", "aws-sdk-go-v2"
_CONSTRUCTOR = re.compile(
    r"^github\.com/aws/(aws-sdk-go-v2|aws-sdk-go)/(?:service|feature)/(\w+)(?:/[\w/]+)?\.(New\w*)$"
)


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    if alias in ("_", "."):
        return []
    parts = module.split("/")
    local = parts[-1]
    if re.fullmatch(r"v\d+", local) and len(parts) > 1:  # .../foo/v2 is package foo
        local = parts[-2]
    return [(alias or local, module)]


def classify_import(module: str, ctx: Context) -> Use | None:
    return go_module(module, ctx.catalog)


_CLIENT_TYPE = re.compile(r"^github\.com/aws/(aws-sdk-go-v2|aws-sdk-go)/service/(\w+)(?:/\w+iface)?\.(\w+)$")


def classify_type(qualified: str, ctx: Context) -> Use | None:
    """The client a declared type is: v2's `*s3.Client`, v1's `*s3.S3` or `s3iface.S3API`."""
    match = _CLIENT_TYPE.match(qualified)
    if not match:
        return None
    sdk, package, name = match.groups()
    if name != "Client" and not name.endswith("API") and name.lower() != package.lower():
        return None
    service = ctx.catalog.lookup(package)
    return Use(V2 if sdk == "aws-sdk-go-v2" else V1, (service,)) if service else None


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    match = _CONSTRUCTOR.match(call.callee)
    if not match:
        return None
    service = ctx.catalog.lookup(match.group(2))
    if service is None:
        return None
    return "client", Use(V2 if match.group(1) == "aws-sdk-go-v2" else V1, (service,))


# An import spec of an SDK module: `import "github.com/aws/..."`, or a line of an import
# block, named or not.
GATE = re.compile(rb'^[ \t]*(?:import[ \t]*\(?[ \t]*)?(?:[\w.]+[ \t]+)?"github\.com/aws/aws-sdk-go', re.M)


def module_names(rel_path: str, src: bytes, layout: Layout) -> list[str]:
    """A package is imported by its module's path (the nearest go.mod above it) and its
    directory below that module: example.com/app/internal/awsclients."""
    directory = posixpath.dirname(rel_path)
    probe = directory
    while True:
        module = layout.go_modules.get(probe)
        if module is not None:
            below = directory[len(probe) :].lstrip("/")
            return [f"{module}/{below}" if below else module]
        if not probe:
            return []
        probe = posixpath.dirname(probe)


def imported_name(callee: str, rel_path: str, src: bytes) -> str | None:
    """`awsclients.NewS3` is already the import path and the function's name."""
    return callee if "/" in callee else None


SPEC = LanguageSpec(
    name="go",
    extensions=(".go",),
    grammar=tree_sitter_go.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"interpreted_string_literal", "raw_string_literal"}),
    classify_import=classify_import,
    classify_call=classify_call,
    bind_import=bind_import,
    sdk_gate=GATE,
    module_names=module_names,
    imported_name=imported_name,
    typed_query=TYPED_QUERY,
    classify_type=classify_type,
)
