from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kecs.scanner.image import ImageError, ImageOptions, scan_image
from tests.scanner.imagekit import docker_save, layer, oci_layout

APP = 'import boto3\nsqs = boto3.client("sqs")\n'
DIST = "Metadata-Version: 2.1\nName: boto3\nVersion: 1.26.27\n"


def summary(report) -> list[tuple[str, str, str, tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    return [(f.path, f.kind, f.sdk, f.services) for f in report.findings]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_layers_whiteouts_and_opaque_dirs(tmp_path: Path, compression: str) -> None:
    base = layer(
        {
            "usr/lib/python3/dist-packages/boto3-1.26.27.dist-info/METADATA": DIST,
            "app/old.py": 'import boto3\nboto3.client("s3")\n',
            "app/jobs/cron.py": 'import boto3\nboto3.client("events")\n',
            "app/replaced.py": 'import boto3\nboto3.client("sns")\n',
        },
        compression,
    )
    top = layer(
        {
            "app/.wh.old.py": b"",
            "app/jobs/.wh..wh..opq": b"",
            "app/jobs/new.py": "print('no aws')\n",
            "app/replaced.py": "print('rewritten without aws')\n",
            "app/main.py": APP,
        },
        compression,
    )
    archive = docker_save(tmp_path / "img.tar", [(["shop/api:1"], [base, top])])
    report = scan_image(str(archive))
    assert summary(report) == [
        ("/app/main.py", "import", "boto3", ()),
        ("/app/main.py", "client", "boto3", ("sqs",)),
        ("/usr/lib/python3/dist-packages/boto3-1.26.27.dist-info/METADATA", "installed", "boto3", ()),
    ]
    layers = {f.path: f.layer for f in report.findings}
    assert (
        layers["/app/main.py"].startswith("sha256:")
        and layers["/app/main.py"]
        != layers["/usr/lib/python3/dist-packages/boto3-1.26.27.dist-info/METADATA"]
    )
    assert report.findings[-1].evidence == "boto3 1.26.27"
    assert report.services == ["sqs"]


def test_oci_layout_directory_and_tar(tmp_path: Path) -> None:
    layers = [
        layer(
            {
                "usr/src/app/index.js": 'const { S3Client } = require("@aws-sdk/client-s3");\nnew S3Client({});\n'
            },
            "gzip",
        )
    ]
    directory = tmp_path / "oci"
    directory.mkdir()
    oci_layout(directory, layers)
    tar = oci_layout(tmp_path / "oci.tar", layers, as_tar=True)
    for target in (directory, tar):
        report = scan_image(str(target))
        assert [(f.path, f.kind, f.services) for f in report.findings] == [
            ("/usr/src/app/index.js", "import", ("s3",)),
            ("/usr/src/app/index.js", "client", ("s3",)),
        ]


def test_blobs_before_manifest_still_stack_in_order(tmp_path: Path) -> None:
    """The daemon's stream may put the manifest last: state is kept per path, ordered at the end."""
    first = layer({"app/a.py": APP})
    second = layer({"app/.wh.a.py": b""})
    archive = docker_save(tmp_path / "img.tar", [(["x:1"], [first, second])], blobs_first=True)
    assert scan_image(str(archive)).findings == []


def test_installed_packages_in_many_ecosystems(tmp_path: Path) -> None:
    import io
    import zipfile

    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr(
            "META-INF/maven/software.amazon.awssdk/s3/pom.properties",
            "groupId=software.amazon.awssdk\nartifactId=s3\nversion=2.20.0\n",
        )
    boot = io.BytesIO()
    with zipfile.ZipFile(boot, "w") as z:
        z.writestr("BOOT-INF/lib/sqs-2.20.0.jar", _jar("software.amazon.awssdk", "sqs"))
    files = {
        "app/node_modules/@aws-sdk/client-dynamodb/package.json": json.dumps(
            {"name": "@aws-sdk/client-dynamodb", "version": "3.4.0"}
        ),
        "app/node_modules/left-pad/package.json": json.dumps({"name": "left-pad", "version": "1.0.0"}),
        "usr/local/bundle/specifications/aws-sdk-s3-1.140.0.gemspec": "# gemspec\n",
        "var/www/vendor/composer/installed.json": json.dumps(
            {"packages": [{"name": "aws/aws-sdk-php", "version": "3.2"}]}
        ),
        "app/Api.deps.json": json.dumps({"libraries": {"AWSSDK.SQS/3.7.1": {}, "Newtonsoft.Json/13": {}}}),
        "opt/app/lib/aws-s3.jar": jar.getvalue(),
        "opt/app/app.jar": boot.getvalue(),
        "usr/lib/python3.11/site-packages/aiobotocore-2.5.0.dist-info/METADATA": "Name: aiobotocore\n",
    }
    report = scan_image(str(docker_save(tmp_path / "i.tar", [(["x:1"], [layer(files)])])))
    assert {(f.path, f.sdk, f.services, f.evidence) for f in report.findings} == {
        (
            "/app/node_modules/@aws-sdk/client-dynamodb/package.json",
            "aws-sdk-js-v3",
            ("dynamodb",),
            "@aws-sdk/client-dynamodb 3.4.0",
        ),
        (
            "/usr/local/bundle/specifications/aws-sdk-s3-1.140.0.gemspec",
            "aws-sdk-ruby",
            ("s3",),
            "aws-sdk-s3 1.140.0",
        ),
        ("/var/www/vendor/composer/installed.json", "aws-sdk-php", (), "aws/aws-sdk-php 3.2"),
        ("/app/Api.deps.json", "aws-sdk-net", ("sqs",), "AWSSDK.SQS 3.7.1"),
        ("/opt/app/lib/aws-s3.jar", "aws-sdk-java-v2", ("s3",), "software.amazon.awssdk:s3 2.20.0"),
        ("/opt/app/app.jar", "aws-sdk-java-v2", ("sqs",), "software.amazon.awssdk:sqs 2.20.0"),
        (
            "/usr/lib/python3.11/site-packages/aiobotocore-2.5.0.dist-info/METADATA",
            "aiobotocore",
            (),
            "aiobotocore 2.5.0",
        ),
    }
    assert {f.kind for f in report.findings} == {"installed"}


def _jar(group: str, artifact: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            f"META-INF/maven/{group}/{artifact}/pom.properties",
            f"groupId={group}\nartifactId={artifact}\nversion=2.20.0\n",
        )
    return buffer.getvalue()


def test_multi_image_archives(tmp_path: Path) -> None:
    archive = docker_save(
        tmp_path / "two.tar",
        [(["shop/api:1"], [layer({"app/a.py": APP})]), (["shop/web:2"], [layer({"app/w.py": "print(1)\n"})])],
    )
    with pytest.raises(
        ImageError, match=r"several images \(shop/api:1, shop/web:2\); pick one with ARCHIVE:TAG"
    ):
        scan_image(str(archive))
    assert scan_image(f"{archive}:shop/api:1").services == ["sqs"]
    assert scan_image(str(archive), ImageOptions(tag="shop/web:2")).findings == []
    with pytest.raises(ImageError, match=r"no image tagged 'nope'.*shop/api:1, shop/web:2"):
        scan_image(str(archive), ImageOptions(tag="nope"))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../../etc/passwd": "x"}, "leaves the image root"),
        ({"app/../../x.py": APP}, "leaves the image root"),
    ],
)
def test_hostile_members_are_rejected(tmp_path: Path, files: dict[str, str], message: str) -> None:
    archive = docker_save(tmp_path / "bad.tar", [(["x:1"], [layer(files)])])  # type: ignore[arg-type]
    with pytest.raises(ImageError, match=message) as info:
        scan_image(str(archive))
    assert str(archive) in str(info.value)


def test_absolute_paths_links_and_devices_are_read_safely(tmp_path: Path) -> None:
    files = {
        "/app/abs.py": APP,
        "app/link.py": ("symlink", "/etc/shadow"),
        "app/hard.py": ("hardlink", "app/abs.py"),
        "app/out": ("symlink", "../../../../root"),
    }
    archive = docker_save(tmp_path / "links.tar", [(["x:1"], [layer(files)])])  # type: ignore[arg-type]
    report = scan_image(str(archive))
    assert {f.path for f in report.findings} == {"/app/abs.py"}
    assert not (tmp_path / "root").exists()


def test_truncated_and_garbage_archives(tmp_path: Path) -> None:
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(200_000))
    archive = docker_save(
        tmp_path / "img.tar", [(["x:1"], [layer({"app/a.py": APP, "app/blob.bin": noise}, "gzip")])]
    )
    data = archive.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut.tar: .*truncated"):
        scan_image(str(cut))
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(ImageError, match=r"junk\.tar: "):
        scan_image(str(junk))


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kecs.scanner.image as image

    monkeypatch.setattr(image, "BOMB_FLOOR", 1 << 20)  # the real floor is a gigabyte
    bomb = layer({"app/zeros.bin": b"\x00" * (64 << 20)}, "gzip")
    archive = docker_save(tmp_path / "bomb.tar", [(["x:1"], [bomb])])
    with pytest.raises(ImageError, match="decompression bomb"):
        scan_image(str(archive))


def test_progress_reports_bytes(tmp_path: Path) -> None:
    archive = docker_save(tmp_path / "img.tar", [(["x:1"], [layer({"app/a.py": APP})])])
    seen: list[tuple[int, int]] = []
    scan_image(str(archive), ImageOptions(progress=lambda done, total: seen.append((done, total))))
    assert seen and seen[-1] == (archive.stat().st_size, archive.stat().st_size)


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no-such-image-kecs:1: no such file, and"):
        scan_image("no-such-image-kecs:1")


def test_executable_scripts_are_sniffed_then_scanned_as_source(tmp_path: Path) -> None:
    """An executable that is not ELF is read once, as source: the stream is not rewound."""
    files = {"app/bin/manage.py": '#!/usr/bin/env python3\nimport boto3\nboto3.client("sqs")\n'}
    report = scan_image(str(docker_save(tmp_path / "x.tar", [(["x:1"], [layer(files)])])))
    assert [(f.path, f.kind, f.services) for f in report.findings] == [
        ("/app/bin/manage.py", "import", ()),
        ("/app/bin/manage.py", "client", ("sqs",)),
    ]


def _elf_with_section(name: bytes, payload: bytes) -> bytes:
    """A minimal 64-bit ELF executable image with one named section (as cargo auditable writes)."""
    import struct

    shstrtab = b"\x00" + name + b"\x00.shstrtab\x00"
    data_offset = 64
    strtab_offset = data_offset + len(payload)
    shoff = strtab_offset + len(shstrtab)
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2)
    sections = b"\x00" * 64
    sections += struct.pack("<IIQQQQIIQQ", 1, 1, 0, 0, data_offset, len(payload), 0, 0, 1, 0)
    sections += struct.pack(
        "<IIQQQQIIQQ", 1 + len(name) + 1, 3, 0, 0, strtab_offset, len(shstrtab), 0, 0, 1, 0
    )
    return header + payload + shstrtab + sections


def test_rust_binary_with_cargo_auditable_data(tmp_path: Path) -> None:
    import zlib

    dependencies = {
        "packages": [{"name": "aws-sdk-s3", "version": "1.5.0"}, {"name": "tokio", "version": "1.0.0"}]
    }
    binary = _elf_with_section(b".dep-v0", zlib.compress(json.dumps(dependencies).encode()))
    report = scan_image(
        str(docker_save(tmp_path / "r.tar", [(["r:1"], [layer({"usr/local/bin/server": binary})])]))
    )
    assert [(f.path, f.kind, f.sdk, f.services, f.evidence) for f in report.findings] == [
        ("/usr/local/bin/server", "installed", "aws-sdk-rust", ("s3",), "aws-sdk-s3 1.5.0")
    ]


def test_device_files_and_fifos_are_never_read(tmp_path: Path) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, kind in (
            ("dev/zero", tarfile.CHRTYPE),
            ("dev/sda", tarfile.BLKTYPE),
            ("app/pipe.py", tarfile.FIFOTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            archive.addfile(info)
        data = APP.encode()
        info = tarfile.TarInfo("app/main.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    report = scan_image(str(docker_save(tmp_path / "d.tar", [(["d:1"], [buffer.getvalue()])])))
    assert {f.path for f in report.findings} == {"/app/main.py"}


def test_many_whiteouts_over_many_files_stack_in_linear_time() -> None:
    import time

    from kecs.scanner.image import LayerState, stack

    lower = LayerState("lower")
    lower.files = {f"app/d{n % 200}/f{n}.py": [] for n in range(40_000)}
    upper = LayerState("upper")
    upper.whiteouts = [f"app/d{n % 200}/f{n}.py" for n in range(0, 40_000, 2)] + [
        f"app/d{n}" for n in range(150, 200)
    ]
    upper.opaque = ["app/d0"]
    started = time.monotonic()
    visible = stack([lower, upper])
    assert time.monotonic() - started < 5  # was quadratic: minutes
    assert not any(p.startswith(("app/d0/", "app/d150/")) for p in visible)
    assert all(int(p.rsplit("f", 1)[1][:-3]) % 2 == 1 for p in visible)
    # Odd files live in odd directories (n % 200 keeps parity): 20,000 of them, less the
    # 25 odd directories among d150-d199 (200 files each) that were whited out.
    assert len(visible) == 20_000 - 25 * 200


def test_an_oci_blob_that_is_a_link_or_fifo_is_refused(tmp_path: Path) -> None:
    import os

    root = oci_layout(tmp_path / "oci", [layer({"app/app.py": APP})])
    blobs = sorted((root / "blobs" / "sha256").iterdir())
    victim = next(b for b in blobs if b.read_bytes()[:1] != b"{")
    victim.unlink()
    victim.symlink_to("/dev/zero")
    with pytest.raises(ImageError, match="is a link"):
        scan_image(str(root))
    victim.unlink()
    os.mkfifo(victim)
    with pytest.raises(ImageError, match="not a regular file"):
        scan_image(str(root))  # no hang on a FIFO


def test_a_member_declaring_a_huge_size_is_refused_at_once(tmp_path: Path) -> None:
    import tarfile

    info = tarfile.TarInfo("app/big.py")
    info.size = 1 << 50  # a PAX size header: a petabyte, with a few bytes behind it
    bomb = info.tobuf(tarfile.PAX_FORMAT) + b"import boto3\n" + b"\0" * 1024
    archive = docker_save(tmp_path / "img.tar", [(["app:1"], [bomb])])
    with pytest.raises(ImageError, match="declares"):
        scan_image(str(archive))


def test_a_cargo_auditable_section_that_inflates_without_bound_is_ignored(tmp_path: Path) -> None:
    import zlib

    bomb = zlib.compress(b" " * (200 << 20), 9)  # 200 MiB of spaces in about 200 KiB
    binary = _elf_with_section(b".dep-v0", bomb)
    report = scan_image(
        str(docker_save(tmp_path / "r.tar", [(["r:1"], [layer({"usr/local/bin/server": binary})])]))
    )
    assert report.findings == []  # read up to the cap, then given up on


def test_corrupt_zstd_layers_and_jars_are_errors_not_tracebacks(tmp_path: Path) -> None:
    import io
    import zipfile

    good = layer({"app/app.py": APP}, "zstd")
    corrupt = good[:12] + bytes(b ^ 0x5A for b in good[12:40]) + good[40:]
    with pytest.raises(ImageError, match="layer"):
        scan_image(str(docker_save(tmp_path / "z.tar", [(["z:1"], [corrupt])])))
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/maven/software.amazon.awssdk/s3/pom.properties", "groupId=x\n" * 100)
    data = bytearray(jar.getvalue())
    data[40:60] = b"\xff" * 20  # a corrupt entry
    report = scan_image(
        str(docker_save(tmp_path / "j.tar", [(["j:1"], [layer({"app/lib/x.jar": bytes(data)})])]))
    )
    assert report.findings == []
