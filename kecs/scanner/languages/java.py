"""Java: AWS SDK for Java v1 (com.amazonaws) and v2 (software.amazon.awssdk)."""

from __future__ import annotations

import tree_sitter_java

from kecs.scanner.languages import jvm
from kecs.scanner.source import LanguageSpec

QUERY = r"""
(import_declaration (scoped_identifier) @import.module (asterisk)? @import.name) @import
(method_invocation arguments: (argument_list) @call.args) @call
(object_creation_expression type: (_) @call.callee arguments: (argument_list) @call.args) @call
(local_variable_declaration declarator: (variable_declarator name: (identifier) @bind.name value: (_) @bind.value)) @bind
(field_declaration declarator: (variable_declarator name: (identifier) @bind.name value: (_) @bind.value)) @bind
(method_declaration name: (identifier) @factory.name parameters: (formal_parameters) @factory.params
  body: (block (return_statement (method_invocation arguments: (argument_list) @factory.args) @factory.call))) @factory
"""

# Fields and parameters declared with a client's type (`@Autowired private SqsClient sqs;`).
TYPED_QUERY = r"""
(field_declaration type: (_) @typed.type declarator: (variable_declarator name: (identifier) @typed.name)) @typed
(formal_parameter type: (_) @typed.type name: (identifier) @typed.name) @typed
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string_literal) @string
"""

SPEC = LanguageSpec(
    name="java",
    extensions=(".java",),
    grammar=tree_sitter_java.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string_literal"}),
    interpolation_types=frozenset({"string_interpolation"}),
    classify_import=jvm.classify_import,
    classify_call=jvm.classify_call,
    bind_import=jvm.bind_import,
    sdk_gate=jvm.GATE,
    module_names=jvm.module_names,
    imported_name=jvm.imported_name,
    typed_query=TYPED_QUERY,
    classify_type=jvm.classify_type,
)
