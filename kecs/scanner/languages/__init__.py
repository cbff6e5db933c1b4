"""The languages the source scanner understands, one module each, registered here."""

from __future__ import annotations

from kecs.scanner.languages import csharp, go, java, javascript, kotlin, php, python, ruby, rust
from kecs.scanner.source import LanguageSpec

LANGUAGES: tuple[LanguageSpec, ...] = (
    python.SPEC,
    javascript.JAVASCRIPT,
    javascript.TYPESCRIPT,
    javascript.TSX,
    go.SPEC,
    java.SPEC,
    kotlin.SPEC,
    ruby.SPEC,
    php.SPEC,
    csharp.SPEC,
    rust.SPEC,
)


def by_extension() -> dict[str, LanguageSpec]:
    return {ext: spec for spec in LANGUAGES for ext in spec.extensions}
