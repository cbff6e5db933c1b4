"""Load a user's compose project: find its files, parse them safely, merge them.

Two views come out: `raw`, the merged files as written (variables kept for Compose
to resolve at run time), and `resolved`, the same with `${VAR:-default}` interpolated
from the environment and `.env`, for planning (build contexts, image names).
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from kecs.errors import KecsError
from kecs.safefs import read_regular

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
TOP_LEVEL_KEYS = {
    "version",
    "name",
    "include",
    "services",
    "models",
    "networks",
    "volumes",
    "secrets",
    "configs",
}
GENERATED_MARKER = "x-kecs-generated"
MAX_FILE = 8 * 1024 * 1024  # a compose or .env file larger than this is not one
# Expanded size past which a document is an alias bomb, not a compose file.
MAX_NODES = 200_000
MAX_EXPANDED = 8 * 1024 * 1024  # bytes of scalars the document expands to through aliases
MAX_DEPTH = 100  # nesting of mappings and sequences


@dataclass
class Project:
    directory: str
    files: list[str]
    raw: dict[str, Any]
    resolved: dict[str, Any]
    env: dict[str, str]
    # (file, line) of each service's key, for messages that point at the source.
    service_lines: dict[str, tuple[str, int]] = field(default_factory=dict)
    # (file, line) of every mapping key, by its path: ("x-kecs", "routes", "dynamodb").
    key_lines: dict[tuple[str, ...], tuple[str, int]] = field(default_factory=dict)
    # What each service's env_file entries set (read at load), and each variable's file.
    env_files: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    # env_file entries that do not exist (Compose refuses to start such a service).
    missing_env_files: tuple[str, ...] = ()

    def service_environment_names(self, name: str) -> set[str]:
        return set(service_environment(self.services.get(name) or {}))

    def environment_of(self, name: str) -> dict[str, str]:
        """A service's environment as its container gets it: env_file values, then
        `environment` on top (Compose's precedence)."""
        from_files = {k: value for k, (value, _) in self.env_files.get(name, {}).items()}
        return {**from_files, **service_environment(self.services.get(name) or {})}

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.resolved.get("services") or {}

    def where(self, service: str) -> str:
        file, line = self.service_lines.get(service, (self.files[0], 0))
        name = os.path.relpath(file, self.directory)
        return f"{name}:{line}" if line else name

    def where_key(self, *path: str) -> str:
        """file:line of a key (the nearest enclosing key that is known), for messages."""
        while path and path not in self.key_lines:
            path = path[:-1]
        file, line = self.key_lines.get(path, (self.files[0], 0))
        name = os.path.relpath(file, self.directory)
        return f"{name}:{line}" if line else name


def find_files(directory: str) -> list[str]:
    for name in DEFAULT_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            stem, ext = os.path.splitext(name)
            files = [path]
            for override_ext in (ext, ".yml" if ext == ".yaml" else ".yaml"):
                override = os.path.join(directory, f"{stem}.override{override_ext}")
                if os.path.isfile(override):
                    files.append(override)
                    break
            return files
    raise KecsError(
        f"{directory}: no compose file (looked for {', '.join(DEFAULT_FILES)}); pass one with -f FILE"
    )


# -- parsing ----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    pass


def _check_nodes(node: yaml.Node, path: str, lines: dict[tuple[str, ...], int]) -> None:
    """Duplicate keys and alias bombs, on the composed node graph before construction."""
    sizes: dict[int, tuple[int, int, int]] = {}

    def size(n: yaml.Node) -> tuple[int, int, int]:
        """(nodes, scalar bytes, height) `n` expands to. Anchors come before their aliases,
        so an alias's node is known when it is met: the recursion follows the text's own
        nesting (bounded by _check_depth), while the height counts the expanded one."""
        known = sizes.get(id(n))
        if known is not None:
            return known
        sizes[id(n)] = (1, 0, 1)  # cycles (recursive aliases) count once
        nodes, data, height = 1, len(n.value) if isinstance(n, yaml.ScalarNode) else 0, 1
        children: list[yaml.Node] = []
        if isinstance(n, yaml.MappingNode):
            children = [part for pair in n.value for part in pair]
        elif isinstance(n, yaml.SequenceNode):
            children = list(n.value)
        for child in children:
            more, more_data, below = size(child)
            nodes, data, height = nodes + more, data + more_data, max(height, below + 1)
        if height > MAX_DEPTH:
            raise KecsError(
                f"{path}:{n.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep (through "
                "YAML aliases?); refusing to read it"
            )
        sizes[id(n)] = (nodes, data, height)
        return nodes, data, height

    nodes, data, _ = size(node)
    if nodes > MAX_NODES or data > MAX_EXPANDED:
        raise KecsError(
            f"{path}: the document expands to more than {MAX_NODES} nodes or {MAX_EXPANDED // 1024 // 1024} MiB "
            "through YAML aliases (an alias bomb?); refusing to read it"
        )

    def walk(n: yaml.Node, where: tuple[str, ...], seen: set[int]) -> None:
        if id(n) in seen:
            return
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in n.value:
                if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                    walk(value, where, seen)
                    continue
                line = key.start_mark.line + 1
                if key.value in first:
                    dotted = ".".join((*where, key.value))
                    raise KecsError(
                        f"{path}:{line}: duplicate key {dotted!r} (first at line {first[key.value]}); "
                        "keep one of them"
                    )
                first[key.value] = line
                lines.setdefault((*where, key.value), line)
                walk(value, (*where, key.value), seen)
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):  # items by index: ("x-kecs", "seed", "s3", "0")
                lines.setdefault((*where, str(index)), item.start_mark.line + 1)
                walk(item, (*where, str(index)), seen)

    walk(node, (), set())


def _check_depth(text: str, path: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before anything recursive reads the document
    (PyYAML's composer recurses once per level)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise KecsError(
                    f"{path}:{line}: nested more than {MAX_DEPTH} levels deep; "
                    "a compose file is not; refusing to read it"
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse_file(path: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    try:
        found = read_regular(path, MAX_FILE)
    except (OSError, UnicodeDecodeError) as exc:
        raise KecsError(f"{path}: cannot read it: {exc}") from exc
    if found is None:
        raise KecsError(f"{path}: no such file")
    text = found
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # control characters, NUL
        line = text.count("\n", 0, exc.position) + 1
        raise KecsError(f"{path}:{line}: invalid YAML: character {exc.character:#x} is not allowed") from None
    try:
        _check_depth(text, path)
        node = loader.get_single_node()
        if node is None:
            raise KecsError(f"{path}: the file is empty; a compose file needs a `services:` mapping")
        lines: dict[tuple[str, ...], int] = {}
        _check_nodes(node, path, lines)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise KecsError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise KecsError(f"{path}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise KecsError(f"{path}: the top level must be a mapping with a `services:` key")
    for key in data:
        if not isinstance(key, str) or (key not in TOP_LEVEL_KEYS and not key.startswith("x-")):
            line = lines.get((str(key),), 1)
            allowed = ", ".join(sorted(TOP_LEVEL_KEYS))
            raise KecsError(f"{path}:{line}: unknown top-level key {key!r} (allowed: {allowed}, x-*)")
    if GENERATED_MARKER in data:
        raise KecsError(
            f"{path}: this file was generated by kecs; run kecs on the compose files it was made from"
        )
    services = data.get("services")
    if services is not None and not isinstance(services, dict):
        raise KecsError(f"{path}:{lines.get(('services',), 1)}: `services` must be a mapping of names")
    return data, lines


# -- merging (Compose's rules for several -f files) ---------------------------------------

# Keys whose list or mapping forms Compose treats as one mapping.
_MAPPING_LIKE = {"environment", "labels", "annotations", "sysctls", "extra_hosts", "depends_on", "build_args"}
# Sequences the later file replaces rather than extends.
_REPLACED = {"command", "entrypoint", "test"}


def _as_mapping(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        if key == "depends_on":
            out[text] = {"condition": "service_started"}
        elif key == "extra_hosts":
            name, _, address = text.replace("=", ":", 1).partition(":")
            out[name] = address
        else:
            name, sep, val = text.partition("=")
            out[name] = val if sep else None
    return out


def merge(base: Any, override: Any, key: str = "") -> Any:
    if key in _MAPPING_LIKE and base is not None and override is not None:
        merged = _as_mapping(key, base)
        for k, v in _as_mapping(key, override).items():
            merged[k] = merge(merged.get(k), v, k) if isinstance(v, dict) else v
        return merged
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge(base[k], v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED:
        out_list = list(base)
        for item in override:
            if item not in out_list:
                out_list.append(item)
        return out_list
    return override


# -- extends -----------------------------------------------------------------------------


_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def _rebase(value: Any, source_dir: str, project_dir: str) -> Any:
    """A relative path written in another directory's file, made relative to the project."""
    if not isinstance(value, str) or os.path.isabs(value) or "$" in value or "://" in value:
        return value
    if _SCP_LIKE.match(value):  # git@github.com:org/repo.git, a remote build context
        return value
    if value.startswith("~"):
        return value
    moved = os.path.relpath(os.path.normpath(os.path.join(source_dir, value)), project_dir)
    return moved if moved.startswith("..") else f"./{moved}"


def _rebase_service(service: dict[str, Any], source_dir: str, project_dir: str) -> dict[str, Any]:
    if os.path.normpath(source_dir) == os.path.normpath(project_dir):
        return service
    out = dict(service)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = _rebase(build, source_dir, project_dir)
    elif isinstance(build, dict) and "context" in build:
        out["build"] = {**build, "context": _rebase(build["context"], source_dir, project_dir)}
    env_file = out.get("env_file")
    if isinstance(env_file, str):
        out["env_file"] = _rebase(env_file, source_dir, project_dir)
    elif isinstance(env_file, list):
        out["env_file"] = [
            {**e, "path": _rebase(e.get("path"), source_dir, project_dir)}
            if isinstance(e, dict)
            else _rebase(e, source_dir, project_dir)
            for e in env_file
        ]
    volumes = []
    for volume in out.get("volumes") or []:
        if isinstance(volume, str) and volume.startswith("."):
            source, sep, rest = volume.partition(":")
            volume = _rebase(source, source_dir, project_dir) + sep + rest
        elif isinstance(volume, dict) and str(volume.get("source", "")).startswith("."):
            volume = {**volume, "source": _rebase(volume["source"], source_dir, project_dir)}
        volumes.append(volume)
    if volumes:
        out["volumes"] = volumes
    return out


def _resolve_extends(
    services: dict[str, Any], service_lines: dict[str, tuple[str, int]], project_dir: str
) -> dict[str, Any]:
    """Inline `extends` (Compose's own merge rules), so the generated file stands alone
    and a build context inherited from a base service is scanned. Paths in a base from
    another file are relative to that file; they come out relative to the project."""
    files: dict[str, tuple[dict[str, Any], dict[tuple[str, ...], int]]] = {
        path: (services, {("services", n): line for n, (p, line) in service_lines.items() if p == path})
        for path in {p for p, _ in service_lines.values()}
    }

    def resolve(
        name: str, service: dict[str, Any], declared_in: str, chain: tuple[str, ...]
    ) -> dict[str, Any]:
        own = {k: v for k, v in service.items() if k != "extends"}
        if files[declared_in][0] is not services:  # a base read from an extends file
            own = _rebase_service(own, os.path.dirname(declared_in), project_dir)
        extends = service.get("extends")
        if extends is None:
            return own
        line = files[declared_in][1].get(("services", name), 0)
        where = f"{os.path.relpath(declared_in, project_dir)}{f':{line}' if line else ''}: services.{name}.extends"
        if isinstance(extends, str):
            extends = {"service": extends}
        if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
            raise KecsError(f"{where} must name a service (extends: {{service: NAME, file: FILE}})")
        target, file = extends["service"], extends.get("file")
        source = declared_in
        if file is not None:
            source = os.path.normpath(os.path.join(os.path.dirname(declared_in), str(file)))
            if source not in files:
                if not os.path.isfile(source):
                    raise KecsError(f"{where}: {file}: no such file")
                data, lines = parse_file(source)
                files[source] = (data.get("services") or {}, lines)
        key = f"{source}:{target}"
        if key in chain:
            raise KecsError(f"{where}: extends loops back to {target!r}; break the cycle")
        base = files[source][0].get(target)
        if not isinstance(base, dict):
            raise KecsError(f"{where}: no service {target!r} in {os.path.relpath(source, project_dir)}")
        merged: dict[str, Any] = merge(resolve(target, base, source, (*chain, key)), own)
        return merged

    out: dict[str, Any] = {}
    for name, service in services.items():
        declared_in = service_lines[name][0]
        if isinstance(service, dict) and "extends" in service:
            out[name] = resolve(name, service, declared_in, (f"{declared_in}:{name}",))
        else:
            out[name] = service
    return out


# -- interpolation -----------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, env, where) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, where) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current
        if op in (":-", "-"):
            missing = unset_or_empty if op == ":-" else current is None
            return interpolate(arg, env, where) if missing else str(current)
        if op in (":?", "?"):
            missing = unset_or_empty if op == ":?" else current is None
            if missing:
                raise KecsError(f"{where}: required variable {name} is not set: {arg or 'no message'}")
            return str(current)
        if op in (":+", "+"):
            present = not unset_or_empty if op == ":+" else current is not None
            return interpolate(arg, env, where) if present else ""
        return current or ""

    return _VARIABLE.sub(substitute, value)


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment` (mapping or list form) as a mapping; a bare NAME is empty."""
    value = service.get("environment") or {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    if isinstance(value, list):
        for item in value:
            key, _, val = str(item).partition("=")
            out[key] = val
    return out


def _env_files(
    services: Mapping[str, Any], project_dir: str, where: Callable[[str], str]
) -> tuple[dict[str, dict[str, tuple[str, str]]], tuple[str, ...]]:
    """What each service's env_file entries set (value and file), and the entries that do
    not exist, as warnings."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    missing: list[str] = []
    for name, service in services.items():
        entries = (service or {}).get("env_file")
        entries = [entries] if isinstance(entries, (str, dict)) else entries or []
        values: dict[str, tuple[str, str]] = {}
        for entry in entries:
            path = entry.get("path") if isinstance(entry, dict) else entry
            required = entry.get("required", True) if isinstance(entry, dict) else True
            if not isinstance(path, str):
                continue
            full = os.path.normpath(os.path.join(project_dir, os.path.expanduser(path)))
            if not os.path.exists(full):
                if required is not False:
                    missing.append(
                        f"{where(name)}: services.{name}.env_file {path} does not exist: Compose will not "
                        f"start {name} (create it, or mark it `required: false`)"
                    )
                continue
            label = os.path.relpath(full, project_dir)
            values.update({k: (v, label) for k, v in read_env_file(full).items()})
        if values:
            found[name] = values
    return found, tuple(missing)


def read_env_file(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        # A regular file of sane size only: not a FIFO (a hang), not a link to /dev/zero.
        text = read_regular(path, MAX_FILE)
    except (OSError, UnicodeDecodeError) as exc:
        raise KecsError(f"{path}: cannot read it: {exc}") from exc
    if text is None:
        return out
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.removeprefix("export ").partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name.strip()):
            raise KecsError(f"{path}:{number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name.strip()] = value
    return out


@functools.cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(resources.files("kecs.compose").joinpath("data/compose-spec.schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


def _non_string_key(value: Any, keys: tuple[str, ...]) -> tuple[tuple[str, ...], Any] | None:
    """The first mapping key that YAML made a null, number or boolean (`null:`, `1:`)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                return keys, key
            found = _non_string_key(child, (*keys, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for child in value:
            found = _non_string_key(child, keys)
            if found is not None:
                return found
    return None


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema kecs validates against (bundled)."""
    return _validator().schema  # type: ignore[no-any-return]


def _deref(schema: Any) -> Any:
    """A subschema with a local `$ref` (#/definitions/X) replaced by what it names."""
    ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
    if ref.startswith("#/definitions/"):
        return _validator().schema["definitions"].get(ref.rsplit("/", 1)[-1], schema)
    return schema


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(document: dict[str, Any], path: str, lines: Mapping[tuple[str, ...], int]) -> None:
    """Check a compose file's values against the Compose specification's schema (its types,
    after interpolation, as Compose checks them) before anything plans with them."""
    bad = _non_string_key(document, ())
    if bad is not None:
        parents, key = bad
        at = lines.get(parents, 0)
        place = f"{os.path.relpath(path)}:{at}" if at else os.path.relpath(path)
        raise KecsError(
            f"{place}: {'.'.join(parents) or '(top level)'}: the key {json.dumps(key, default=str)} is not a "
            "name (Compose names are strings: quote it)"
        )
    # `environment:` with nothing under it is null, which Compose takes as absent.
    document = {k: v for k, v in document.items() if v is not None}
    if isinstance(document.get("services"), dict):
        document["services"] = {
            name: {k: v for k, v in service.items() if v is not None}
            if isinstance(service, dict)
            else service
            for name, service in document["services"].items()
        }
    error = None
    for found in _validator().iter_errors(document):
        if error is None or len(found.absolute_path) > len(error.absolute_path):
            error = found  # the deepest: the value that is wrong, not its parent
    if error is None:
        return
    keys = [str(k) for k in error.absolute_path]
    line = 0
    for depth in range(len(keys), 0, -1):
        line = lines.get(tuple(keys[:depth]), 0)
        if line:
            break
    where = f"{os.path.relpath(path)}:{line}" if line else os.path.relpath(path)
    dotted = ".".join(keys) or "(top level)"
    if error.validator == "type":
        expected = error.validator_value
        kinds = " or ".join(expected) if isinstance(expected, list) else expected
        problem = f"{_short(error.instance)} is not {kinds}"
    elif error.validator in ("oneOf", "anyOf") and all(
        "type" in _deref(sub) for sub in error.validator_value
    ):
        alternatives: list[str] = []
        for sub in map(_deref, error.validator_value):
            alternatives += sub["type"] if isinstance(sub["type"], list) else [sub["type"]]
        problem = f"{_short(error.instance)} is not {' or '.join(dict.fromkeys(alternatives))}"
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in known and not str(k).startswith("x-"))
        if unknown:
            line = lines.get((*keys, unknown[0]), line)
            where = f"{os.path.relpath(path)}:{line}" if line else os.path.relpath(path)
        name = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(known))}, x-*"
        problem = f"unknown key {name!r} ({hint})"
    else:
        problem = f"{_short(error.instance)} is not valid here ({error.validator})"
    raise KecsError(f"{where}: {dotted}: {problem} (see the Compose specification)")


def load_project(
    directory: str | None = None,
    files: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    extra: Sequence[tuple[str, dict[str, Any]]] = (),
) -> Project:
    """Read a compose project as `docker compose` would find it; `extra` documents (each
    with the file it came from: a task definition) are merged after the compose files, and
    stand alone when the directory has no compose file."""
    paths = [os.path.abspath(f) for f in files] if files else None
    if paths is None:
        base = os.path.abspath(directory or ".")
        if not os.path.isdir(base):
            raise KecsError(f"{directory}: no such directory")
        try:
            paths = find_files(base)
        except KecsError:
            if not extra:
                raise
            paths = []
    if paths:
        project_dir = os.path.abspath(directory) if directory and files else os.path.dirname(paths[0])
    else:
        project_dir = os.path.abspath(directory or ".")
    env = read_env_file(os.path.join(project_dir, ".env"))
    env.update(os.environ if environ is None else environ)  # the shell wins over .env
    raw: dict[str, Any] = {}
    service_lines: dict[str, tuple[str, int]] = {}
    key_lines: dict[tuple[str, ...], tuple[str, int]] = {}
    for path in paths:
        data, lines = parse_file(path)
        validate(interpolate(data, env, where=os.path.relpath(path)), path, lines)
        for key, line in lines.items():
            key_lines.setdefault(key, (path, line))
        included = _included(data, path, lines, env, project_dir, (path,))
        for name in data.get("services") or {}:
            if name in included.get("services", {}):
                raise KecsError(
                    f"{os.path.relpath(path)}:{lines.get(('services', name), 0)}: service {name!r} is also "
                    "defined in a file it includes; Compose refuses that: rename one"
                )
            service_lines.setdefault(name, (path, lines.get(("services", name), 0)))
        for name in included.get("services", {}):
            service_lines.setdefault(name, (path, lines.get(("include",), 0)))
        data = merge(included, {k: v for k, v in data.items() if k != "include"}) if included else data
        raw = merge(raw, data) if raw else data
    for path, data in extra:
        path = os.path.abspath(path)
        validate(interpolate(data, env, where=os.path.relpath(path)), path, {})
        for name in data.get("services") or {}:
            if name in service_lines:
                raise KecsError(
                    f"{path}: container {name!r} has the name of a service in {os.path.relpath(service_lines[name][0])}; rename one"
                )
            service_lines[name] = (path, 0)
        raw = merge(raw, data) if raw else data
        paths.append(path)
    if not raw.get("services"):
        raise KecsError(f"{paths[0]}: no services defined")
    raw["services"] = _resolve_extends(raw["services"], service_lines, project_dir)
    resolved = interpolate(raw, env, where=", ".join(os.path.relpath(p) for p in paths))
    project = Project(project_dir, paths, raw, resolved, dict(env), service_lines, key_lines)
    project.env_files, project.missing_env_files = _env_files(project.services, project_dir, project.where)
    return project


MAX_INCLUDE_DEPTH = 8


def _included(
    data: dict[str, Any],
    path: str,
    lines: dict[tuple[str, ...], int],
    env: Mapping[str, str],
    project_dir: str,
    chain: tuple[str, ...],
) -> dict[str, Any]:
    """What `include:` brings into a file: the included files' services, networks and
    volumes, their relative paths made relative to the project (the generated file stands
    alone: Debian's docker-compose 1.29 has no `include`)."""
    entries = data.get("include") or []
    where = f"{os.path.relpath(path)}:{lines.get(('include',), 0)}: include"
    if not isinstance(entries, list):
        raise KecsError(f"{where} must be a list of files")
    out: dict[str, Any] = {}
    for entry in entries:
        names = entry if isinstance(entry, str) else entry.get("path") if isinstance(entry, dict) else None
        for name in [names] if isinstance(names, str) else names or []:
            target = os.path.normpath(os.path.join(os.path.dirname(path), interpolate(str(name), env)))
            if target in chain or len(chain) > MAX_INCLUDE_DEPTH:
                raise KecsError(
                    f"{where}: {name} includes itself (through {' -> '.join(map(os.path.relpath, chain))})"
                )
            included, included_lines = parse_file(target)
            validate(interpolate(included, env, where=os.path.relpath(target)), target, included_lines)
            nested = _included(included, target, included_lines, env, project_dir, (*chain, target))
            own = {k: v for k, v in included.items() if k != "include"}
            own["services"] = {
                n: _rebase_service(s or {}, os.path.dirname(target), project_dir)
                for n, s in (own.get("services") or {}).items()
            }
            piece = merge(nested, own) if nested else own
            clash = set(out.get("services") or {}) & set(piece.get("services") or {})
            if clash:
                raise KecsError(f"{where}: service {sorted(clash)[0]!r} is defined by two included files")
            out = merge(out, piece) if out else piece
    return out


def compose_project_name(
    directory: str,
    explicit: str | None = None,
    document: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The Compose project name kecs passes (`-p`) to every Compose command, as Compose
    itself would choose it: given, COMPOSE_PROJECT_NAME, the file's `name:`, else the
    directory's name, lower-cased with what Compose does not allow removed."""
    environ = os.environ if environ is None else environ
    for candidate in (explicit, environ.get("COMPOSE_PROJECT_NAME"), (document or {}).get("name")):
        if isinstance(candidate, str) and candidate and "$" not in candidate:
            return candidate
    name = re.sub(r"[^a-z0-9_-]", "", os.path.basename(os.path.abspath(directory)).lower()).lstrip("_-")
    return name or "kecs"
