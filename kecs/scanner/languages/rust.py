"""Rust: the AWS SDK for Rust (aws-sdk-* crates, aws-config)."""

from __future__ import annotations

import re

import tree_sitter_rust

from kecs.scanner.source import Call, Context, LanguageSpec, Use, code_line

QUERY = r"""
(use_declaration argument: (_) @import.module) @import
(extern_crate_declaration name: (identifier) @import.module alias: (identifier)? @import.alias) @import
(call_expression function: (_) @call.callee arguments: (arguments) @call.args) @call
(let_declaration pattern: (identifier) @bind.name value: (_) @bind.value) @bind
"""

# Run only on files that could hold a lint finding (see kecs.scanner.lint).
LINT_QUERY = r"""
(string_literal) @string
(raw_string_literal) @string
"""

SDK = "aws-sdk-rust"
_CORE_CRATES = ("aws_config", "aws_types", "aws_credential_types", "aws_smithy_")
_CLIENT = re.compile(r"^aws_sdk_(\w+?)::(?:\w+::)*Client::(?:new|from_conf)$")


def flatten_use(tree: str) -> list[tuple[str, str | None]]:
    """`a::{b as c, d::{e, self}}` -> [("a::b", "c"), ("a::d::e", None), ("a::d", None)]."""
    # Mark `as` before dropping whitespace, which would glue it to its neighbours.
    tree = "".join(re.sub(r"\s+as\s+", "@", tree).split())
    out: list[tuple[str, str | None]] = []

    def walk(prefix: str, item: str) -> None:
        brace = item.find("{")
        if brace >= 0 and item.endswith("}"):
            base = _join(prefix, item[:brace].rstrip(":"))
            depth, start = 0, 0
            inner = item[brace + 1 : -1]
            for i, ch in enumerate(inner + ","):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    if inner[start:i]:
                        walk(base, inner[start:i])
                    start = i + 1
            return
        path, _, alias = item.partition("@")
        full = _join(prefix, path)
        if full.endswith("::self"):
            full = full[: -len("::self")]
        out.append((full, alias or None))

    walk("", tree)
    return out


def _join(prefix: str, path: str) -> str:
    return f"{prefix}::{path}" if prefix and path else prefix or path


def bind_import(module: str, name: str | None, alias: str | None) -> list[tuple[str, str]]:
    out = []
    for path, local in flatten_use(module):
        if path.endswith("::*"):
            continue
        out.append((alias or local or path.split("::")[-1], path))
    return out


def classify_import(module: str, ctx: Context) -> Use | None:
    head = re.match(r"\s*(?:::)?(\w+)", module)
    crate = head.group(1) if head else ""
    if crate.startswith("aws_sdk_"):
        service = ctx.catalog.lookup(crate[len("aws_sdk_") :])
        return Use(SDK, (service,) if service else ())
    if crate.startswith(_CORE_CRATES):
        return Use(SDK)
    return None


def classify_call(call: Call, ctx: Context) -> tuple[str, Use] | None:
    match = _CLIENT.match(call.callee)
    if match:
        service = ctx.catalog.lookup(match.group(1))
        if service:
            return "client", Use(SDK, (service,))
    return None


# An SDK crate used as a path outside a string (`use aws_sdk_s3::Client`,
# `aws_config::load_from_env()`), or declared with `extern crate`.
GATE = code_line(rb"""(?<!['"\w])aws_\w+::|\bcrate[ \t]+aws_""")

SPEC = LanguageSpec(
    name="rust",
    extensions=(".rs",),
    grammar=tree_sitter_rust.language,
    query=QUERY,
    lint_query=LINT_QUERY,
    string_types=frozenset({"string_literal", "raw_string_literal"}),
    classify_import=classify_import,
    classify_call=classify_call,
    bind_import=bind_import,
    sdk_gate=GATE,
)
