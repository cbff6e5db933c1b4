"""Kotlin: the AWS SDK for Kotlin (aws.sdk.kotlin) and the Java SDKs used from Kotlin."""

from __future__ import annotations

import tree_sitter_kotlin

from kecs.scanner.languages import jvm
from kecs.scanner.source import LanguageSpec, Layout

QUERY = r"""
(import (qualified_identifier) @import.module "*"? @import.name) @import
(import (qualified_identifier) @import.module "as" (identifier) @import.alias) @import
(call_expression . (_) @call.callee (value_arguments)? @call.args) @call
(property_declaration (variable_declaration (identifier) @bind.name) . (_) @bind.value .) @bind
(function_declaration name: (identifier) @factory.name (function_value_parameters) @factory.params
  (function_body (call_expression . (_) @factory.callee) @factory.call)) @factory
(function_declaration name: (identifier) @factory.name (function_value_parameters) @factory.params
  (function_body (block (return_expression (call_expression . (_) @factory.callee) @factory.call)))) @factory
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string_literal) @string
"""


def module_names(rel_path: str, src: bytes, layout: Layout) -> list[str]:
    """Top-level functions belong to the file's package: com.example.aws.queues."""
    package = jvm.package_of(src)
    return [package] if package else []


def imported_name(callee: str, rel_path: str, src: bytes) -> str | None:
    """`queues` through `import com.example.aws.queues` is already qualified; a function of
    the file's own package needs no import."""
    if "." in callee:
        return callee
    package = jvm.package_of(src)
    return f"{package}.{callee}" if package else None


SPEC = LanguageSpec(
    name="kotlin",
    extensions=(".kt", ".kts"),
    grammar=tree_sitter_kotlin.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string_literal"}),
    interpolation_types=frozenset({"interpolation", "interpolated_expression", "interpolated_identifier"}),
    classify_import=jvm.classify_import,
    classify_call=jvm.classify_call,
    bind_import=jvm.bind_import,
    sdk_gate=jvm.GATE,
    arg_wrappers=frozenset({"value_argument"}),
    module_names=module_names,
    imported_name=imported_name,
)
