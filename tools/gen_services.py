"""Regenerate kecs/scanner/data/services.json from the installed botocore.

botocore's service models are the ground truth for service names (docs/facts.md): the
directory name is the client name (what boto3.client() and LocalStack's SERVICES use),
and the metadata gives serviceId, endpointPrefix and signingName, from which every
other SDK derives its package and class names.

    python tools/gen_services.py
"""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session


def main() -> None:
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


if __name__ == "__main__":
    main()
