from __future__ import annotations

import datetime
import json

from kecs.proxy.credentials import CredentialSource, MetadataService
from kecs.proxy.taskmeta import TaskInfo, answer, metadata_path, networks

NETDEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0
  eth0: 5000041      37    1    2    0     0          0         0    64123      30    0    3    0     0       0          0
"""
INFO = TaskInfo("shop", "orders", "shop/orders:1", "eu-west-1", {"team": "a"}, 0.5, 512)
NOW = datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.timezone.utc)


def test_the_four_v4_paths_have_ecs_shapes() -> None:
    base = metadata_path(INFO)
    status, container = answer(INFO, base, ["172.20.0.5"], NETDEV, NOW, 2, "2026-11-26T09:00:00Z")
    assert status == 200 and container is not None
    assert container["Name"] == "orders" and container["Image"] == "shop/orders:1"
    assert container["Labels"]["team"] == "a" and container["Labels"]["com.amazonaws.ecs.cluster"] == "shop"
    assert container["Limits"] == {"CPU": 512, "Memory": 512}
    assert container["Networks"][0]["IPv4Addresses"] == ["172.20.0.5"]
    assert container["DockerId"] == INFO.docker_id and len(INFO.docker_id) == 64
    _, task = answer(INFO, base + "/task", [], NETDEV, NOW, 2, "x")
    assert task is not None and task["Cluster"] == "shop" and task["Family"] == "orders"
    assert task["TaskARN"] == f"arn:aws:ecs:eu-west-1:000000000000:task/shop/{INFO.task_id}"
    assert task["Limits"] == {"CPU": 0.5, "Memory": 512} and task["Containers"][0]["Name"] == "orders"
    _, stats = answer(INFO, base + "/stats", [], NETDEV, NOW, 2, "x")
    assert stats is not None and stats["networks"]["eth0"]["rx_bytes"] == 5000041
    assert stats["networks"]["eth0"]["tx_dropped"] == 3 and "lo" not in stats["networks"]
    assert stats["memory_stats"]["limit"] == 512 << 20 and stats["cpu_stats"]["online_cpus"] == 2
    _, both = answer(INFO, base + "/task/stats", [], NETDEV, NOW, 2, "x")
    assert both is not None and set(both) == {INFO.docker_id}
    assert answer(INFO, base + "/other", [], NETDEV, NOW, 2, "x") == (404, None)
    assert answer(INFO, "/v4/" + "0" * 64, [], NETDEV, NOW, 2, "x") == (404, None)


def test_task_info_travels_as_json_and_ids_are_stable() -> None:
    again = TaskInfo.from_json(INFO.to_json())
    assert again == INFO and again.docker_id == INFO.docker_id
    assert TaskInfo("shop", "billing", "x").docker_id != INFO.docker_id
    assert networks("garbage\n\n  eth1: 1 2\n") == {}


def test_the_metadata_service_serves_v4_beside_credentials() -> None:
    service = MetadataService(CredentialSource("orders", "eu-west-1", "http://127.0.0.1:9"), task=INFO)
    status, kind, body = service.answer(b"GET", metadata_path(INFO).encode(), {})
    assert (status, kind) == (200, b"application/json") and json.loads(body)["Name"] == "orders"
    assert service.answer(b"GET", b"/v4/nope/task", {})[0] == 404
    bare = MetadataService(CredentialSource("orders", "eu-west-1", "http://127.0.0.1:9"))
    assert bare.answer(b"GET", metadata_path(INFO).encode(), {})[0] == 404
