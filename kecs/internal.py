"""kecs's own AWS clients (the seeder, the log forwarder) prove themselves to the proxy.

Each request they send carries kecs.contract.INTERNAL_HEADER with the project's internal
token, read from the CA volume these services mount (no app may: kecs.compose.guard).
The proxy strips the header before forwarding and records the request as kecs's, not the
app's. A client made outside a kecs container (no token) is left as it is.
"""

from __future__ import annotations

from typing import Any

from kecs import contract
from kecs.tls import read_internal_token


def mark(client: Any, ca_dir: str = contract.CONTAINER_CA_DIR) -> Any:
    """The boto3 client, its requests carrying the internal token (when there is one)."""
    token = read_internal_token(ca_dir)
    if token is not None:

        def add(request: Any, **_: Any) -> None:
            request.headers[contract.INTERNAL_HEADER] = token

        # After signing: the header is not part of the signature the emulator sees.
        client.meta.events.register_last("before-send", add)
    return client
