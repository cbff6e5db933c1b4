"""Kotlin: the AWS SDK for Kotlin (aws.sdk.kotlin) and the Java SDKs used from Kotlin."""

from __future__ import annotations

import tree_sitter_kotlin

from kecs.scanner.languages import jvm
from kecs.scanner.source import LanguageSpec

QUERY = r"""
(import (qualified_identifier) @import.module "*"? @import.name) @import
(import (qualified_identifier) @import.module "as" (identifier) @import.alias) @import
(call_expression . (_) @call.callee (value_arguments)? @call.args) @call
(property_declaration (variable_declaration (identifier) @bind.name) . (_) @bind.value .) @bind
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string_literal) @string
"""

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
)
