"""ECS task metadata endpoint v4, as the proxy serves it to the app beside it.

ECS gives every container `ECS_CONTAINER_METADATA_URI_V4` (http://169.254.170.2/v4/ID) and
answers `/` (the container), `/task`, `/stats` and `/task/stats`. Logging and tracing
libraries (aws-otel, the CloudWatch agent, FireLens) read it to label what they send. The
generated file gives the proxy what ECS would know from the task definition (the service's
name, image, labels, limits, the cluster); the proxy adds what it can see from the shared
network namespace: the addresses and the real network counters. CPU and memory usage are
not visible from there and are reported as zero (the shapes are Docker's, as ECS returns).

No I/O: `/proc/net/dev`'s text, the addresses and the clock come in as arguments.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "000000000000"


@dataclass(frozen=True)
class TaskInfo:
    """What the generated file tells the proxy (KECS_TASK_METADATA, JSON)."""

    cluster: str
    service: str  # the compose service: the container's name and the task's family
    image: str
    region: str = "us-east-1"
    labels: dict[str, str] = field(default_factory=dict)
    cpu: float = 0.0  # vCPUs; 0: no limit declared
    memory: int = 0  # MiB; 0: no limit declared

    @classmethod
    def from_json(cls, text: str) -> TaskInfo:
        data = json.loads(text)
        return cls(
            str(data["cluster"]), str(data["service"]), str(data.get("image", "")), str(data.get("region", "us-east-1")),
            {str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            float(data.get("cpu") or 0), int(data.get("memory") or 0),
        )  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(
            {"cluster": self.cluster, "service": self.service, "image": self.image, "region": self.region,
             "labels": self.labels, "cpu": self.cpu, "memory": self.memory},
            sort_keys=True, separators=(",", ":"),
        )  # fmt: skip

    @property
    def docker_id(self) -> str:
        """A stable 64-hex id per cluster and service, as Docker's look."""
        return hashlib.sha256(f"{self.cluster}/{self.service}".encode()).hexdigest()

    @property
    def task_id(self) -> str:
        return self.docker_id[:32]

    @property
    def task_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:task/{self.cluster}/{self.task_id}"


def metadata_path(info: TaskInfo) -> str:
    return f"/v4/{info.docker_id}"


def _limits(info: TaskInfo) -> dict[str, Any]:
    return {"CPU": int(info.cpu * 1024), "Memory": info.memory}


def container(info: TaskInfo, addresses: list[str], started: str) -> dict[str, Any]:
    labels = {
        **info.labels,
        "com.amazonaws.ecs.cluster": info.cluster,
        "com.amazonaws.ecs.container-name": info.service,
        "com.amazonaws.ecs.task-arn": info.task_arn,
        "com.amazonaws.ecs.task-definition-family": info.service,
        "com.amazonaws.ecs.task-definition-version": "1",
    }
    return {
        "DockerId": info.docker_id,
        "Name": info.service,
        "DockerName": f"{info.cluster}-{info.service}",
        "Image": info.image,
        "ImageID": "",
        "Labels": labels,
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": _limits(info),
        "CreatedAt": started,
        "StartedAt": started,
        "Type": "NORMAL",
        "ContainerARN": f"arn:aws:ecs:{info.region}:{ACCOUNT}:container/{info.cluster}/{info.task_id}/{info.service}",
        "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": addresses, "AttachmentIndex": 0}],
    }


def task(info: TaskInfo, addresses: list[str], started: str) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if info.cpu:
        limits["CPU"] = info.cpu
    if info.memory:
        limits["Memory"] = info.memory
    return {
        "Cluster": info.cluster,
        "TaskARN": info.task_arn,
        "Family": info.service,
        "Revision": "1",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": limits,
        "PullStartedAt": started,
        "PullStoppedAt": started,
        "AvailabilityZone": f"{info.region}a",
        "LaunchType": "FARGATE",
        "Containers": [container(info, addresses, started)],
    }


_NET_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped")
_TX_FIELDS = ("tx_bytes", "tx_packets", "tx_errors", "tx_dropped")


def networks(netdev: str) -> dict[str, dict[str, int]]:
    """Per interface (loopback left out), Docker's counters from /proc/net/dev."""
    out: dict[str, dict[str, int]] = {}
    for line in netdev.splitlines()[2:]:
        name, _, rest = line.partition(":")
        values = rest.split()
        name = name.strip()
        if not name or name == "lo" or len(values) < 12:
            continue
        numbers = [int(v) for v in values]
        out[name] = {
            **dict(zip(_NET_FIELDS, numbers[0:4], strict=True)),
            **dict(zip(_TX_FIELDS, numbers[8:12], strict=True)),
        }
    return out


def stats(info: TaskInfo, netdev: str, now: datetime.datetime, cpus: int) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    usage = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
             "system_cpu_usage": 0, "online_cpus": cpus, "throttling_data": {}}  # fmt: skip
    return {
        "read": stamp,
        "preread": stamp,
        "name": f"/{info.cluster}-{info.service}",
        "id": info.docker_id,
        "num_procs": 0,
        "pids_stats": {},
        "networks": networks(netdev),
        "cpu_stats": usage,
        "precpu_stats": usage,
        "memory_stats": {"usage": 0, "limit": info.memory * 1024 * 1024, "stats": {}},
        "blkio_stats": {},
        "storage_stats": {},
    }


def answer(
    info: TaskInfo,
    path: str,
    addresses: list[str],
    netdev: str,
    now: datetime.datetime,
    cpus: int,
    started: str,
) -> tuple[int, dict[str, Any] | None]:
    """(status, document) for a path under /v4/."""
    base = metadata_path(info)
    rest = path[len(base) :] if path.startswith(base) else None
    if rest in ("", "/"):
        return 200, container(info, addresses, started)
    if rest in ("/task", "/task/"):
        return 200, task(info, addresses, started)
    if rest in ("/stats", "/stats/"):
        return 200, stats(info, netdev, now, cpus)
    if rest in ("/task/stats", "/task/stats/"):
        return 200, {info.docker_id: stats(info, netdev, now, cpus)}
    return 404, None
