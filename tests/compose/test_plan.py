from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kecs.compose.load import load_project
from kecs.compose.plan import Options, ServiceEvidence, options_from_project, plan
from kecs.errors import KecsError
from kecs.scanner.model import Finding
from tests.compose.conftest import MakeProject


def finding(path: str, kind: str, sdk: str, *services: str, line: int = 1) -> Finding:
    return Finding(path, line, 1, "python", sdk, tuple(services), kind, "x")


def test_who_is_captured_and_why(make_project: MakeProject) -> None:
    root = make_project(
        {
            "compose.yaml": """
                services:
                  api: {build: ./api}
                  web: {build: ./web}
                  cache: {image: redis}
                  forced: {image: tool, x-kecs: {proxy: true, services: [sqs], role: reader}}
                  optout: {build: ./api, x-kecs: {proxy: false}}
                  hostnet: {build: ./api, network_mode: host}
                  libonly: {build: ./lib}
                """
        }
    )
    project = load_project(str(root), environ={})
    api = (
        finding("api/requirements.txt", "manifest", "boto3"),
        finding("api/app.py", "client", "boto3", "s3", line=3),
    )
    evidence = {
        "api": ServiceEvidence("build context api", True, api),
        "web": ServiceEvidence("build context web", True, ()),
        "cache": ServiceEvidence("image redis", False, note="image redis is not in the local Docker daemon"),
        "forced": ServiceEvidence("image tool", False, note="x"),
        "optout": ServiceEvidence("build context api", True, api),
        "hostnet": ServiceEvidence("build context api", True, api),
        "libonly": ServiceEvidence(
            "build context lib", True, (finding("lib/req.txt", "manifest", "aws-sdk-js"),)
        ),
    }
    result = plan(project, evidence, Options())
    rows = {s.name: (s.captured, s.reason, s.aws_services) for s in result.services}
    assert rows["api"] == (True, "boto3 client (s3) at api/app.py:3", ("s3",))
    assert rows["web"] == (False, "no AWS SDK use found in build context web", ())
    assert rows["cache"][0] is False
    assert "not scanned: image redis is not in the local Docker daemon" in rows["cache"][1]
    assert "x-kecs.proxy: true to capture it" in rows["cache"][1]
    assert rows["forced"] == (True, "x-kecs.proxy: true", ("sqs",))
    assert rows["optout"] == (False, "opted out (x-kecs.proxy: false)", ("s3",))
    assert rows["hostnet"][0] is False and "network_mode 'host'" in rows["hostnet"][1]
    assert rows["libonly"][0] is True
    assert next(s for s in result.services if s.name == "forced").role == "reader"
    assert result.services[0].places == ("api/app.py:3", "api/requirements.txt:1")
    # libonly names no AWS service: the emulator must serve everything.
    assert result.emulator is not None and result.emulator.aws_services is None
    assert any("libonly" in note and "service unknown" in note for note in result.notes)


def test_emulator_services_and_choices(make_project: MakeProject) -> None:
    root = make_project({"compose.yaml": "services:\n  api: {build: .}\n  w: {build: .}\n"})
    project = load_project(str(root), environ={})
    evidence = {
        "api": ServiceEvidence(".", True, (finding("a.py", "client", "boto3", "sqs"),)),
        "w": ServiceEvidence(".", True, (finding("b.py", "client", "boto3", "dynamodb", "s3"),)),
    }
    localstack = plan(project, evidence, Options()).emulator
    assert localstack is not None
    assert (localstack.kind, localstack.name, localstack.url) == (
        "localstack",
        "kecs-localstack",
        "https://kecs-localstack:4566",
    )
    # Not narrowed to the scan's guess: a scanner miss must not become a runtime failure.
    assert localstack.aws_services is None
    narrow = plan(project, evidence, Options(services_only=True)).emulator
    assert narrow is not None and narrow.aws_services == ("dynamodb", "iam", "s3", "sqs", "sts")
    moto = plan(project, evidence, Options(emulator="moto")).emulator
    assert moto is not None and (moto.name, moto.url) == ("kecs-moto", "http://kecs-moto:5000")
    external = plan(project, evidence, Options(emulator="url", emulator_url="http://10.0.0.5:4566")).emulator
    assert external is not None and (external.name, external.url) == (None, "http://10.0.0.5:4566")


def test_nothing_to_capture(make_project: MakeProject) -> None:
    root = make_project({"compose.yaml": "services:\n  web: {build: .}\n"})
    result = plan(load_project(str(root), environ={}), {"web": ServiceEvidence(".", True, ())})
    assert result.emulator is None and result.captured == ()


def test_options_from_x_kecs_and_overrides(make_project: MakeProject) -> None:
    root = make_project(
        {
            "compose.yaml": """
                x-kecs:
                  emulator: moto
                  region: eu-west-1
                  images: {proxy: "reg/proxy:${TAG:-2}"}
                services: {a: {image: a}}
                """
        }
    )
    project = load_project(str(root), environ={})
    options = options_from_project(project, {"region": None, "images": {"localstack": "ls:custom"}})
    assert (options.emulator, options.region, options.proxy_image) == ("moto", "eu-west-1", "reg/proxy:2")
    assert options.images["localstack"] == "ls:custom"
    assert options_from_project(project, {"emulator_url": "http://x:1"}).emulator == "url"


@pytest.mark.parametrize(
    ("compose", "message"),
    [
        ("x-kecs: {emulater: moto}\nservices: {a: {image: a}}\n", "unknown x-kecs key 'emulater'"),
        ("x-kecs: {emulator: minio}\nservices: {a: {image: a}}\n", "unknown emulator 'minio'"),
        (
            "services:\n  a: {image: a, x-kecs: {proxy: yes please}}\n",
            r"compose.yaml:2: services.a.x-kecs.proxy must be true or false",
        ),
        ("services:\n  a: {image: a, x-kecs: {rol: x}}\n", "unknown key services.a.x-kecs.rol"),
        (
            "services:\n  a: {image: a, x-kecs: {proxy: true}}\n  a-kecs-proxy: {image: b}\n",
            "already named 'a-kecs-proxy'",
        ),
    ],
)
def test_bad_settings(make_project: MakeProject, compose: str, message: str) -> None:
    root = make_project({"compose.yaml": compose})
    project = load_project(str(root), environ={})
    with pytest.raises(KecsError, match=message):
        plan(project, {}, options_from_project(project, {}))


def test_routes_send_named_services_to_another_emulator(make_project: MakeProject) -> None:
    root = make_project(
        {"compose.yaml": "x-kecs:\n  routes: {DynamoDB: moto, kinesis: moto}\nservices:\n  api: {build: .}\n"}
    )
    project = load_project(str(root), environ={})
    options = options_from_project(project, {"routes": ["sqs=http://elasticmq:9324"]})
    # Spellings resolve to client names; services signed alike travel together.
    assert [(r.services, r.target, r.request_names) for r in options.routes] == [
        (("dynamodb", "dynamodbstreams", "kinesis"), "moto", ("dynamodb", "kinesis", "streams.dynamodb")),
        (("sqs",), "http://elasticmq:9324", ("sqs",)),
    ]
    evidence = {
        "api": ServiceEvidence(".", True, (finding("a.py", "client", "boto3", "dynamodb", "s3", "sqs"),))
    }
    result = plan(project, evidence, replace(options, services_only=True))
    assert result.emulator is not None and result.emulator.aws_services == ("iam", "s3", "sts")
    assert [(e.kind, e.name, e.url, e.aws_services) for e in result.routed] == [
        ("moto", "kecs-moto", "http://kecs-moto:5000", ("dynamodb",)),
        ("url", None, "http://elasticmq:9324", ("sqs",)),
    ]
    # A route to the default emulator, or for a service nobody uses, adds nothing.
    quiet = plan(
        project,
        evidence,
        replace(options_from_project(project, {"routes": ["s3=localstack"]}), services_only=True),
    )
    assert [e.kind for e in quiet.routed] == ["moto"]
    assert quiet.emulator is not None and quiet.emulator.aws_services == ("iam", "s3", "sqs", "sts")
    unused = plan(
        project,
        {"api": ServiceEvidence(".", True, (finding("a.py", "client", "boto3", "s3"),))},
        options_from_project(project, {}),
    )
    assert unused.routed == ()
    assert any(
        "dynamodb, dynamodbstreams, kinesis -> moto: no captured service uses them" in n for n in unused.notes
    )


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (["dynamo=moto"], r"--route dynamo=moto: unknown AWS service 'dynamo' \(did you mean dynamodb\?\)"),
        (
            ["s3=minio"],
            "--route s3=minio: route s3 to localstack, moto, ministack or http://HOST:PORT, not 'minio'",
        ),
        (["s3"], r"--route s3: give SERVICE=EMULATOR \(--route dynamodb=moto\)"),
        (
            ["dynamodb=moto", "dynamodbstreams=localstack"],
            "dynamodbstreams and dynamodb are signed alike .* one emulator; --route dynamodb=moto sends them to moto",
        ),
    ],
)
def test_bad_routes(make_project: MakeProject, routes: list[str], message: str) -> None:
    project = load_project(str(make_project({"compose.yaml": "services: {a: {image: a}}\n"})), environ={})
    with pytest.raises(KecsError, match=message):
        options_from_project(project, {"routes": routes})


def test_a_note_when_localstack_would_download_a_backend(make_project: MakeProject) -> None:
    project = load_project(str(make_project({"compose.yaml": "services:\n  api: {build: .}\n"})), environ={})
    evidence = {
        "api": ServiceEvidence(".", True, (finding("a.py", "client", "boto3", "dynamodb", "kinesis", "s3"),))
    }
    notes = plan(project, evidence).notes
    # From the measured coverage (kecs/coverage.py), which names emulators that serve them.
    assert notes == (
        "dynamodb is not served offline by localstack (it downloads DynamoDB Local on first use); moto and "
        "ministack serve it: --route dynamodb=moto; kinesis is not served offline by localstack (it downloads "
        "kinesis-mock on first use); moto and ministack serve it: --route kinesis=moto",
    )
    routed = options_from_project(project, {"routes": ["dynamodb=ministack", "kinesis=moto"]})
    assert plan(project, evidence, routed).notes == ()
    assert plan(project, evidence, Options(emulator="ministack")).notes == ()


def test_the_command_line_overrides_x_kecs_routes(make_project: MakeProject) -> None:
    root = make_project({"compose.yaml": "x-kecs:\n  routes: {DynamoDB: moto}\nservices: {a: {image: a}}\n"})
    project = load_project(str(root), environ={})
    options = options_from_project(project, {"routes": ["dynamodb=http://ddb:8000"]})
    assert [(r.services, r.target) for r in options.routes] == [
        (("dynamodb", "dynamodbstreams"), "http://ddb:8000")
    ]


def test_x_kecs_errors_name_the_file_and_line(make_project: MakeProject) -> None:
    root = make_project(
        {
            "compose.yaml": "services: {a: {image: a}}\nx-kecs:\n  region: eu-west-1\n  routes:\n    dynamo: moto\n"
        }
    )
    with pytest.raises(
        KecsError, match=r"^compose.yaml:5: x-kecs.routes.dynamo: unknown AWS service 'dynamo'"
    ):
        options_from_project(load_project(str(root), environ={}), {})
    (root / "compose.yaml").write_text(
        "services: {a: {image: a}}\nx-kecs:\n  region: eu-west-1\n  emulater: moto\n"
    )
    with pytest.raises(KecsError, match=r"^compose.yaml:4: unknown x-kecs key 'emulater'"):
        options_from_project(load_project(str(root), environ={}), {})


def test_installed_packages_name_services_only_when_nothing_stronger_does(make_project: MakeProject) -> None:
    root = make_project({"compose.yaml": "services:\n  web: {build: .}\n  tool: {image: t}\n"})
    project = load_project(str(root), environ={})
    evidence = {
        "web": ServiceEvidence(".", True, (
            finding("package.json", "manifest", "aws-sdk-js-v3", "s3"),
            finding("package-lock.json", "installed", "aws-sdk-js-v3", "sso"),
        )),
        "tool": ServiceEvidence("image t", True, (finding("/usr/lib/x", "installed", "boto3", "kms"),)),
        "dyn": ServiceEvidence(".", True, ()),
    }  # fmt: skip
    services = {s.name: s for s in plan(project, evidence).services}
    assert services["web"].aws_services == ("s3",)
    assert services["tool"].aws_services == ("kms",)


def test_a_client_of_an_unnamed_service_is_service_unknown(make_project: MakeProject) -> None:
    root = make_project({"compose.yaml": "services:\n  api: {build: .}\n"})
    project = load_project(str(root), environ={})
    evidence = {
        "api": ServiceEvidence(".", True, (
            finding("a.py", "client", "boto3", "s3"),
            finding("a.py", "client", "boto3", line=4),  # boto3.client(service)
        ))
    }  # fmt: skip
    result = plan(project, evidence, Options(services_only=True))
    assert result.services[0].services_unknown and result.services[0].aws_services == ("s3",)
    assert result.emulator is not None and result.emulator.aws_services is None  # not narrowed to a guess
    assert any("service unknown" in n for n in result.notes) and any("ignored" in n for n in result.notes)


@pytest.mark.parametrize(
    ("service", "needle"),
    [
        ("    volumes: ['kecs-ca:/x']\n", "mounts 'kecs-ca', the proxies' CA volume"),
        ("    volumes: ['kecs-ca:/x:ro']\n", "mounts 'kecs-ca'"),
        ("    volumes: [{type: volume, source: kecs-ca, target: /x}]\n", "mounts 'kecs-ca'"),
        ("    volumes: ['demo_kecs-ca:/x']\n", "mounts 'demo_kecs-ca'"),
        ("    volumes_from: [app-kecs-proxy]\n", "takes the volumes of 'app-kecs-proxy'"),
        ("    volumes_from: ['container:demo-app-kecs-proxy-1:ro']\n", "'demo-app-kecs-proxy-1'"),
        ("    volumes: ['/keys:/x']\n", "bind-mounts '/keys', where kecs keeps CA private keys"),
        ("    volumes: ['/keys/demo-0123:/x']\n", "bind-mounts '/keys/demo-0123'"),
        ("    volumes: ['/state:/x']\n", "bind-mounts '/state'"),  # holds the keys
    ],
)
def test_no_user_service_may_reach_the_ca_key(service: str, needle: str, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: app\n    x-kecs: {proxy: true}\n  thief:\n    image: busybox\n"
        + service
    )
    project = load_project(str(tmp_path))
    with pytest.raises(KecsError) as caught:
        plan(project, {}, Options(keys_directory="/keys" if "/state" not in service else "/state/kecs/ca"))
    message = str(caught.value)
    assert needle in message and message.startswith("compose.yaml:"), message


def test_a_volume_named_as_the_ca_volume_is_refused(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: app\n    x-kecs: {proxy: true}\n"
        "volumes:\n  loot:\n    external: true\n    name: demo_kecs-ca\n"
    )
    with pytest.raises(KecsError, match=r"compose.yaml:\d+: volume 'loot' is named 'demo_kecs-ca'"):
        plan(load_project(str(tmp_path)), {}, Options(keys_directory="/keys"))
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: app\n    x-kecs: {proxy: true}\n    volumes: ['data:/d', './src:/src']\n"
        "volumes:\n  data: {}\n"
    )
    assert plan(
        load_project(str(tmp_path)), {}, Options(keys_directory="/keys")
    ).captured  # ordinary mounts pass
