"""Where a service's output goes in CloudWatch Logs, as ECS's awslogs driver decides it.

A compose file written for ECS has `logging: {driver: awslogs, options: {awslogs-group,
awslogs-region, awslogs-stream-prefix, awslogs-create-group, awslogs-multiline-pattern,
awslogs-datetime-format}}`; `x-kecs.logs: true` (or `x-kecs.logs: {group, stream_prefix}`,
or a project-wide `x-kecs.logs`) asks the same for a service without it. Pure: the
service's compose mapping in, a LogTarget (or None) out; errors name the file and key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kecs.errors import KecsError

AWSLOGS = "awslogs"
KNOWN_OPTIONS = (
    "awslogs-group", "awslogs-region", "awslogs-stream-prefix", "awslogs-create-group",
    "awslogs-multiline-pattern", "awslogs-datetime-format", "awslogs-stream", "mode", "max-buffer-size",
    "awslogs-endpoint", "awslogs-credentials-endpoint", "awslogs-force-flush-interval-seconds", "tag",
)  # fmt: skip
_GROUP = re.compile(r"^[\w#/.-]{1,512}$")
# strftime directives awslogs-datetime-format takes, as regular expressions.
_DATETIME = {
    "%b": r"[A-Z][a-z]{2}", "%a": r"[A-Z][a-z]{2}", "%d": r"\d{2}", "%e": r"[ \d]\d", "%m": r"\d{2}",
    "%y": r"\d{2}", "%Y": r"\d{4}", "%H": r"\d{2}", "%I": r"\d{2}", "%M": r"\d{2}", "%S": r"\d{2}",
    "%L": r"\d{3}", "%f": r"\d{1,9}", "%p": r"[AP]M", "%Z": r"[A-Z]{1,5}", "%z": r"[+-]\d{4}",
    "%j": r"\d{3}", "%A": r"[A-Z][a-z]+", "%B": r"[A-Z][a-z]+", "%%": "%",
}  # fmt: skip


@dataclass(frozen=True)
class LogTarget:
    group: str
    region: str
    stream_prefix: str = ""
    create_group: bool = True
    stream: str = ""  # a fixed stream name (awslogs-stream)
    multiline: str = ""  # a regular expression that starts a new event; "" for one event per line

    def stream_name(self, container: str, task_id: str) -> str:
        """ECS's stream: prefix/container-name/task-id (the task id alone without a prefix)."""
        if self.stream:
            return self.stream
        return f"{self.stream_prefix}/{container}/{task_id}" if self.stream_prefix else task_id


def datetime_pattern(strftime: str) -> str:
    """awslogs-datetime-format as the regular expression awslogs matches at a line's start."""
    out, i = "^", 0
    while i < len(strftime):
        piece = strftime[i : i + 2]
        if piece in _DATETIME:
            out += _DATETIME[piece]
            i += 2
        else:
            out += re.escape(strftime[i])
            i += 1
    return out


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def from_service(
    service: Mapping[str, Any],
    name: str,
    project: str,
    region: str,
    default: Any,
    where: Callable[..., str],
) -> LogTarget | None:
    """The service's target: its awslogs driver, else its `x-kecs.logs`, else the project's."""
    logging = service.get("logging") or {}
    if isinstance(logging, Mapping) and logging.get("driver") == AWSLOGS:
        return _from_awslogs(logging.get("options") or {}, region, where)
    settings = (service.get("x-kecs") or {}).get("logs", default)
    if settings in (None, False):
        return None
    if settings is True:
        settings = {}
    if not isinstance(settings, Mapping) or set(settings) - {"group", "stream_prefix"}:
        raise KecsError(f"{where('x-kecs', 'logs')}: x-kecs.logs is true, false or {{group, stream_prefix}}")
    group = str(settings.get("group") or f"/kecs/{project}/{name}")
    if not _GROUP.match(group):
        raise KecsError(f"{where('x-kecs', 'logs')}: {group!r} is not a log group name")
    return LogTarget(group, region, str(settings.get("stream_prefix") or "kecs"))


def _from_awslogs(options: Any, region: str, where: Callable[..., str]) -> LogTarget:
    if not isinstance(options, Mapping):
        raise KecsError(f"{where('logging', 'options')}: the awslogs options must be a mapping")
    for key in options:
        if key not in KNOWN_OPTIONS:
            raise KecsError(f"{where('logging', 'options', str(key))}: unknown awslogs option {key!r}")
    group = options.get("awslogs-group")
    if not isinstance(group, str) or not _GROUP.match(group):
        raise KecsError(f"{where('logging', 'options')}: awslogs needs awslogs-group (a log group name)")
    create = _boolean(options.get("awslogs-create-group", False))
    if create is None:
        raise KecsError(f"{where('logging', 'options', 'awslogs-create-group')}: true or false")
    pattern = str(options.get("awslogs-multiline-pattern") or "")
    if options.get("awslogs-datetime-format"):
        pattern = datetime_pattern(str(options["awslogs-datetime-format"]))
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise KecsError(
                f"{where('logging', 'options')}: the multiline pattern does not compile: {exc}"
            ) from None
    return LogTarget(
        group, str(options.get("awslogs-region") or region), str(options.get("awslogs-stream-prefix") or ""),
        create, str(options.get("awslogs-stream") or ""), pattern,
    )  # fmt: skip
