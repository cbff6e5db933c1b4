"""Container metrics with ECS's names, from Docker's stats: what `kecs-telemetry` puts to CloudWatch.

ECS publishes per service, with the dimensions ClusterName and ServiceName:
`AWS/ECS` CPUUtilization and MemoryUtilization (percent of what the task may use), and
Container Insights' `ECS/ContainerInsights` CpuUtilized (CPU units, 1024 per vCPU),
MemoryUtilized (MiB), NetworkRxBytes and NetworkTxBytes (bytes per second) and
RestartCount. Pure: two consecutive Docker stats documents (and the restart count) in,
PutMetricData entries out.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

ECS = "AWS/ECS"
INSIGHTS = "ECS/ContainerInsights"


def _network(stats: Mapping[str, Any]) -> tuple[int, int]:
    nets = (stats.get("networks") or {}).values()
    return sum(int(n.get("rx_bytes", 0)) for n in nets), sum(int(n.get("tx_bytes", 0)) for n in nets)


def _memory(stats: Mapping[str, Any]) -> tuple[float, float]:
    """(used bytes without the page cache, as `docker stats` shows it; the limit)."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", detail.get("cache", 0)))
    return float(memory.get("usage", 0)) - float(cache or 0), float(memory.get("limit", 0))


def datapoints(
    cluster: str,
    service: str,
    previous: Mapping[str, Any],
    current: Mapping[str, Any],
    restarts: int,
    now: datetime.datetime,
) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, MetricData entry) for one service between two stats samples."""
    cpu, before = current.get("cpu_stats") or {}, previous.get("cpu_stats") or {}
    used = float(cpu.get("cpu_usage", {}).get("total_usage", 0)) - float(
        before.get("cpu_usage", {}).get("total_usage", 0)
    )
    system = float(cpu.get("system_cpu_usage", 0)) - float(before.get("system_cpu_usage", 0))
    cpus = int(cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1)
    share = used / system if system > 0 and used >= 0 else 0.0  # of the whole machine
    memory, limit = _memory(current)
    seconds = _elapsed(previous, current)
    rx, tx = _network(current)
    rx0, tx0 = _network(previous)
    dimensions = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]

    def entry(name: str, value: float, unit: str) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": now,
            "Value": round(value, 4),
            "Unit": unit,
        }

    return [
        # As `docker stats` counts it: 100 is one vCPU busy (no CPU reservation to divide by).
        (ECS, entry("CPUUtilization", share * cpus * 100, "Percent")),
        (ECS, entry("MemoryUtilization", memory / limit * 100 if limit else 0.0, "Percent")),
        (INSIGHTS, entry("CpuUtilized", share * cpus * 1024, "None")),
        (INSIGHTS, entry("MemoryUtilized", memory / (1 << 20), "Megabytes")),
        (INSIGHTS, entry("NetworkRxBytes", max(rx - rx0, 0) / seconds, "Bytes/Second")),
        (INSIGHTS, entry("NetworkTxBytes", max(tx - tx0, 0) / seconds, "Bytes/Second")),
        (INSIGHTS, entry("RestartCount", float(restarts), "Count")),
    ]


def _elapsed(previous: Mapping[str, Any], current: Mapping[str, Any]) -> float:
    def moment(stats: Mapping[str, Any]) -> datetime.datetime | None:
        text = str(stats.get("read") or "")
        whole, _, fraction = text.rstrip("Z").partition(".")
        try:
            stamp = datetime.datetime.fromisoformat(whole)
        except ValueError:
            return None
        return stamp + datetime.timedelta(microseconds=int((fraction + "000000")[:6] or 0))

    start, end = moment(previous), moment(current)
    if start is None or end is None:
        return 1.0
    return max((end - start).total_seconds(), 1e-3)
