"""One .gitignore file as a matcher whose cost does not grow with its literal patterns.

pathspec knows gitignore's pattern language and is the reference here: every answer equals
`pathspec.GitIgnoreSpec.check_file` (a property test holds the two together). pathspec tries
every pattern against every path, so a 20,000-line .gitignore over a 200,000-file tree is
4 billion regex calls. Real big ignore files are mostly literal names (`secrets.json`),
literal paths (`/build/out`) and suffixes (`*.log`): those are looked up in dictionaries by
the path's components, prefixes and suffixes, and only patterns with other wildcards are
tried one by one (with pathspec's own compiled regex). This module reads no files.

pathspec's GitIgnoreSpec is followed where it differs from git: it lets a later negated
pattern that matches a directory above a path (`!a`) outweigh a pattern matching a
directory itself (`b` for `a/b/`), which git decides the other way.

pathspec's verdict, reproduced: a pattern matches a path either directly (the path's own
name or path; "priority 2") or through a directory above it, or as a directory itself when
the path is queried with a trailing '/' ("priority 1"). The last direct match decides; with
none, the last priority-1 match decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

_SPECIAL = frozenset("*?[]\\!#")


@dataclass
class _Best:
    """Per key: the last pattern of any kind, and the last that also matches files."""

    any: int = -1
    files: int = -1

    def add(self, index: int, dir_only: bool) -> None:
        self.any = index
        if not dir_only:
            self.files = index


@dataclass
class IgnoreFile:
    """The patterns of one .gitignore, indexed. `check` answers True (ignored), False
    (re-included by a negation) or None (no pattern has an opinion)."""

    include: list[bool] = field(default_factory=list)
    names: dict[str, _Best] = field(default_factory=dict)
    paths: dict[str, _Best] = field(default_factory=dict)
    suffixes: dict[str, _Best] = field(default_factory=dict)
    others: list[tuple[int, str, re.Pattern[str]]] = field(default_factory=list)
    # The wildcard patterns, by a short piece of literal text each must find in a path
    # (its rarest three-character piece, or all of a shorter literal); `unkeyed` have none.
    keyed: dict[str, list[tuple[int, str, re.Pattern[str]]]] = field(default_factory=dict)
    key_sizes: tuple[int, ...] = ()
    unkeyed: list[tuple[int, str, re.Pattern[str]]] = field(default_factory=list)

    @classmethod
    def from_lines(cls, lines: list[str]) -> IgnoreFile:
        spec = cls()
        for line in lines:
            pattern = GitIgnoreSpecPattern(line)
            if pattern.include is None:
                continue
            index = len(spec.include)
            spec.include.append(bool(pattern.include))
            kind = _literal_kind(line)
            regex = pattern.regex
            if kind is not None and regex is not None and _agrees(regex, *kind):
                table, key, dir_only = kind
                getattr(spec, table).setdefault(key, _Best()).add(index, dir_only)
            elif isinstance(regex, re.Pattern):
                spec.others.append((index, line, regex))
        spec._index_others()
        return spec

    def _index_others(self) -> None:
        # Identical patterns: only the last can decide.
        last: dict[str, tuple[int, str, re.Pattern[str]]] = {}
        for index, line, regex in self.others:
            last[f"{self.include[index]}:{regex.pattern}"] = (index, line, regex)
        self.others = sorted(last.values(), key=lambda item: item[0])
        literals = {index: _required_literal(line) for index, line, _ in self.others}
        counts: dict[str, int] = {}
        for literal in literals.values():
            for piece in {literal[i : i + 3] for i in range(len(literal) - 2)}:
                counts[piece] = counts.get(piece, 0) + 1
        for entry in self.others:
            literal = literals[entry[0]]
            if not literal:
                self.unkeyed.append(entry)
                continue
            if len(literal) < 3:
                key = literal
            else:
                key = min((literal[i : i + 3] for i in range(len(literal) - 2)), key=lambda k: counts[k])
            self.keyed.setdefault(key, []).append(entry)
        self.key_sizes = tuple(sorted({len(key) for key in self.keyed}))

    def _candidates(self, query: str) -> list[tuple[int, str, re.Pattern[str]]]:
        found = list(self.unkeyed)
        seen: set[str] = set()
        for size in self.key_sizes:
            for i in range(len(query) - size + 1):
                piece = query[i : i + size]
                if piece not in seen:
                    seen.add(piece)
                    found.extend(self.keyed.get(piece, ()))
        found.sort(key=lambda item: item[0])
        return found

    def __len__(self) -> int:
        return len(self.include)

    def check(self, rel: str, is_dir: bool) -> bool | None:
        """`rel` is '/'-separated, relative to this file's directory, without a trailing '/'."""
        direct, through = -1, -1
        parts = rel.split("/")
        last = len(parts) - 1
        prefix = ""
        for position, part in enumerate(parts):
            prefix = f"{prefix}/{part}" if position else part
            below = position < last or is_dir  # followed by '/' in the queried form
            for best in (
                self.names.get(part),
                self.paths.get(prefix),
                *(self.suffixes.get(part[i:]) for i in range(len(part)) if self.suffixes),
            ):
                if best is None:
                    continue
                if below:
                    through = max(through, best.any)
                else:
                    direct = max(direct, best.files)
        if self.others:
            query = rel + "/" if is_dir else rel
            for index, _, regex in reversed(self._candidates(query)):
                if index < direct:
                    break
                found = regex.search(query)
                if found is None:
                    continue
                if found.groupdict().get("ps_d"):
                    through = max(through, index)
                else:
                    direct = index
                    break
        chosen = direct if direct >= 0 else through
        return self.include[chosen] if chosen >= 0 else None


def _literal_kind(line: str) -> tuple[str, str, bool] | None:
    """Which dictionary a pattern belongs in, judged from its text; None for anything with
    wildcards, escapes, odd whitespace or empty components (those stay with pathspec)."""
    body = line[1:] if line.startswith("!") else line
    if not body or body != body.strip() or any(c in _SPECIAL for c in body[1:]):
        return None
    dir_only = body.endswith("/")
    core = body[:-1] if dir_only else body
    if body[0] == "*":
        suffix = core[1:]
        if suffix and "/" not in suffix:
            return ("suffixes", suffix, dir_only)
        return None
    if body[0] in _SPECIAL:
        return None
    anchored = "/" in core
    core = core.removeprefix("/")
    if not core or any(part in ("", ".", "..") for part in core.split("/")):
        return None
    return ("paths" if anchored else "names", core, dir_only)


def _required_literal(line: str) -> str:
    """The longest run of plain characters in a pattern: any path it matches (or matches
    below) contains it. Bracket expressions, escapes, wildcards and '/' end a run; the
    ends are trimmed of whitespace (a shorter run is still contained)."""
    text = line.strip()
    text = text[1:] if text.startswith("!") else text
    runs, run, i = [], "", 0
    while i < len(text):
        char = text[i]
        if char in "*?/":
            runs.append(run)
            run = ""
        elif char == "\\":
            runs.append(run)
            run = ""
            i += 1
        elif char == "[":
            runs.append(run)
            run = ""
            # Where a bracket expression ends is subtle ("[]a]", "[!]]"): skip the component.
            slash = text.find("/", i)
            i = len(text) if slash < 0 else slash - 1
        else:
            run += char
        i += 1
    runs.append(run)
    return max((r.strip() for r in runs), key=len)


def _agrees(regex: re.Pattern[str], table: str, key: str, dir_only: bool) -> bool:
    """A guard on the classification: pathspec's own regex must answer a few probes as the
    dictionary would. A pattern that disagrees is simply tried the slow way."""
    name = "x" + key if table == "suffixes" else key
    probes = [
        (name, not dir_only),
        (name + "/", True),
        (name + "/y", True),
        ("q/" + name, table != "paths" and not dir_only),
    ]
    if table == "suffixes":
        probes.append((key + "z", False))
    return all((regex.search(probe) is not None) == expected for probe, expected in probes)
