"""Regenerate kecs/scanner/data/services.json and operations.json.gz from the installed botocore.

botocore's service models are the ground truth for service names (docs/facts.md): the
directory name is the client name (what boto3.client() and LocalStack's SERVICES use),
and the metadata gives serviceId, endpointPrefix and signingName, from which every
other SDK derives its package and class names.

The operations table gives, per service, its protocol, JSON target prefix and each
operation's name, snake_case method name (what boto3 calls it) and, for REST protocols,
HTTP method and request URI: the scanner validates call sites against it and the proxy
names the operation of each request it forwards.

    python tools/gen_services.py
    python tools/gen_services.py --retired botocore-1.35.99-py3-none-any.whl

Services botocore has since removed (kecs.scanner.services.RETIRED: qldb...) are still called
by code in the wild: `--retired WHEEL` adds their rows and operations, read from an older
botocore wheel (pip download --no-deps botocore==1.35.99), to the files as they are.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import botocore.session
from botocore import xform_name


def service_row(session: botocore.session.Session, name: str) -> list[str]:
    meta = session.get_service_model(name).metadata
    return [name, meta.get("serviceId", ""), meta.get("endpointPrefix", ""),
            meta.get("signingName", meta.get("endpointPrefix", ""))]  # fmt: skip


def add_retired(wheel: str) -> None:
    """Merge the retired services' rows and operations from an older botocore wheel."""
    import sys
    import tempfile
    import zipfile

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kecs.scanner.services import RETIRED

    data = Path(__file__).resolve().parent.parent / "kecs" / "scanner" / "data"
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            if len(parts) > 3 and parts[:2] == ["botocore", "data"] and parts[2] in RETIRED:
                archive.extract(member, scratch)
        session = botocore.session.get_session()
        session.set_config_variable("data_path", str(Path(scratch) / "botocore" / "data"))
        found = sorted(n for n in RETIRED if (Path(scratch) / "botocore" / "data" / n).is_dir())
        services = json.loads((data / "services.json").read_text(encoding="utf-8"))
        rows = [r for r in services["services"] if r[0] not in found] + [
            service_row(session, n) for n in found
        ]
        lines = ",\n".join("  " + json.dumps(row) for row in sorted(rows))
        source = services["source"].split(" + ")[0] + f" + retired from {Path(wheel).name}"
        (data / "services.json").write_text(
            "{\n"
            f'"source": {json.dumps(source)},\n'
            '"columns": ["name", "serviceId", "endpointPrefix", "signingName"],\n'
            f'"services": [\n{lines}\n]\n}}\n',
            encoding="utf-8",
        )
        document = json.loads(gzip.decompress((data / "operations.json.gz").read_bytes()))
        for name in found:
            entry = operations_entry(session, name)
            document["services"][name] = json.dumps(entry, separators=(",", ":"))
            if entry["targetPrefix"]:
                document["targetPrefixes"][entry["targetPrefix"]] = name
        document["source"] = source
        (data / "operations.json.gz").write_bytes(
            gzip.compress(json.dumps(document, separators=(",", ":"), sort_keys=True).encode(), mtime=0)
        )
    print(f"added {', '.join(found)} from {wheel}")


def main() -> None:
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--retired":
        add_retired(sys.argv[2])
        return
    session = botocore.session.get_session()
    rows = []
    for name in sorted(session.get_available_services()):
        meta = session.get_service_model(name).metadata
        rows.append(
            [
                name,
                meta.get("serviceId", ""),
                meta.get("endpointPrefix", ""),
                meta.get("signingName", meta.get("endpointPrefix", "")),
            ]
        )
    out = Path(__file__).resolve().parent.parent / "kecs" / "scanner" / "data" / "services.json"
    # One row a line: small diffs when botocore adds a service.
    lines = ",\n".join("  " + json.dumps(row) for row in rows)
    out.write_text(
        "{\n"
        f'"source": {json.dumps("botocore " + botocore.__version__)},\n'
        '"columns": ["name", "serviceId", "endpointPrefix", "signingName"],\n'
        f'"services": [\n{lines}\n]\n}}\n',
        encoding="utf-8",
    )
    print(f"wrote {len(rows)} services to {out}")
    operations = {name: operations_entry(session, name) for name in sorted(session.get_available_services())}
    table = out.with_name("operations.json.gz")
    # Each service's entry is its own JSON text: a reader parses only the services it meets.
    document = {
        "source": f"botocore {botocore.__version__}",
        "targetPrefixes": {v["targetPrefix"]: k for k, v in operations.items() if v["targetPrefix"]},
        "services": {k: json.dumps(v, separators=(",", ":")) for k, v in operations.items()},
    }
    # mtime=0: the same botocore gives the same bytes.
    table.write_bytes(
        gzip.compress(json.dumps(document, separators=(",", ":"), sort_keys=True).encode(), mtime=0)
    )
    print(f"wrote {sum(len(v['operations']) for v in operations.values())} operations to {table}")


def operations_entry(session: botocore.session.Session, name: str) -> dict[str, object]:
    """A service's protocol, JSON target prefix, operations and waiters."""
    model = session.get_service_model(name)
    rest = model.metadata.get("protocol", "").startswith("rest")
    rows_ = []
    for op in sorted(model.operation_names):
        operation = model.operation_model(op)
        http = operation.http
        row = [op, xform_name(op)]
        if rest:
            # Required query parameters tell operations on one path apart (DELETE
            # /{Bucket}/{Key+}?uploadId is AbortMultipartUpload, without it DeleteObject).
            uri = http.get("requestUri", "/")
            shape = operation.input_shape
            # Required headers likewise, marked "!" (PUT with x-amz-copy-source is CopyObject).
            required = []
            for member_name, member in shape.members.items() if shape is not None else ():
                location = member.serialization.get("location")
                if member_name not in shape.required_members:
                    continue
                wire = member.serialization.get("name", member_name)
                if location == "querystring":
                    required.append(wire)
                elif location == "header":
                    required.append("!" + wire.lower())
            if required:
                uri += ("&" if "?" in uri else "?") + "&".join(required)
            row += [http.get("method", "POST"), uri]
        rows_.append(row)
    waiters = {}
    try:
        waiter_model = session.get_waiter_model(name)
    except Exception:  # botocore raises DataNotFoundError for services without waiters
        waiter_model = None
    for waiter in waiter_model.waiter_names if waiter_model is not None else ():
        waiters[xform_name(waiter)] = waiter_model.get_waiter(waiter).operation
    return {
        "protocol": model.metadata.get("protocol", ""),
        "targetPrefix": model.metadata.get("targetPrefix", ""),
        "operations": rows_,
        "waiters": waiters,
    }


if __name__ == "__main__":
    main()
