"""`kecs proxy`: the sidecar's entrypoint. Settings come from flags or KECS_* variables."""

from __future__ import annotations

import argparse
import os

from kecs import contract
from kecs.errors import KecsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--emulator-url",
        default=env(contract.ENV_EMULATOR_URL),
        help="http[s]://HOST:PORT of the emulator",
    )
    parser.add_argument(
        "--route",
        action="append",
        default=None,
        metavar="SERVICE=URL",
        help=f"send one AWS service (signing name or endpoint prefix) to another emulator; repeatable "
        f"(default: {contract.ENV_ROUTES}, a JSON object)",
    )
    parser.add_argument(
        "--service", default=env(contract.ENV_SERVICE, "app"), help="the captured compose service"
    )
    parser.add_argument("--region", default=env(contract.ENV_REGION, "us-east-1"))
    parser.add_argument(
        "--discovery",
        default=env(contract.ENV_DISCOVERY),
        metavar="JSON",
        help="service discovery names the DNS answers (the generated file sets it)",
    )
    parser.add_argument(
        "--private-zones",
        action="store_true",
        default=env(contract.ENV_PRIVATE_ZONES) == "1",
        help="answer names of the emulator's Route 53 private hosted zones",
    )
    parser.add_argument(
        "--task-metadata",
        default=env(contract.ENV_TASK_METADATA),
        metavar="JSON",
        help="what the ECS task metadata endpoint (v4) serves (the generated file sets it)",
    )
    parser.add_argument(
        "--role", default=env(contract.ENV_ROLE), help="IAM role whose credentials the service gets"
    )
    parser.add_argument(
        "--kecs-dir",
        default=env(contract.ENV_DIR, contract.CONTAINER_KECS_DIR),
        help="holds ca/intermediate.{crt,key}",
    )
    parser.add_argument(
        "--uid",
        type=int,
        default=int(env(contract.ENV_UID, str(contract.PROXY_UID))),
        help="uid the proxy serves as",
    )
    parser.add_argument("--proxy-port", type=int, default=contract.PROXY_PORT)
    parser.add_argument("--credentials-port", type=int, default=contract.CREDENTIALS_PORT)
    parser.add_argument("--dns-port", type=int, default=contract.DNS_PORT)
    parser.add_argument(
        "--dns-upstream",
        default=env(contract.ENV_DNS_UPSTREAM, "127.0.0.11:53"),
        help="where non-AWS names are resolved (HOST:PORT, or none)",
    )
    parser.add_argument(
        "--capture",
        choices=contract.CAPTURE_MODES,
        default=env(contract.ENV_CAPTURE, contract.CAPTURE_OWN),
        help="own: install the iptables capture and remove it on stop; shared: the namespace holder "
        "installed it (kept when the proxy stops: fail closed); none: no capture",
    )
    parser.add_argument("--no-capture", action="store_true", help="the same as --capture none")
    parser.add_argument(
        "--state-dir",
        default=env(contract.ENV_STATE_DIR),
        help="where the proxy publishes its health and the AWS services seen (the image sets it)",
    )
    parser.add_argument(
        "--observed-dir",
        default=env(contract.ENV_OBSERVED_DIR),
        help="record each forwarded request there (JSON lines: operation, resource, status; no bodies)",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="hold the network namespace: install the capture, then sleep (the -kecs-net service)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 0 when the capture and listeners are ready"
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: every `kecs` command builds this parser; only the proxy needs these.
    from kecs.proxy.dns import Discovery
    from kecs.proxy.server import Config, check, hold, run, setup_logging
    from kecs.proxy.taskmeta import TaskInfo

    if not args.emulator_url:
        raise KecsError(
            "the proxy needs the emulator: --emulator-url http://HOST:PORT (or KECS_EMULATOR_URL)"
        )
    try:
        routes = (
            args.route
            if args.route is not None
            else contract.decode_routes(os.environ.get(contract.ENV_ROUTES, ""))
        )
    except ValueError as exc:
        raise KecsError(str(exc)) from None
    task = None
    if args.task_metadata:
        try:
            task = TaskInfo.from_json(args.task_metadata)
        except (ValueError, KeyError, TypeError) as exc:
            raise KecsError(
                f"--task-metadata ({contract.ENV_TASK_METADATA}): not the JSON kecs writes: {exc}"
            ) from None
    discovery = None
    if args.discovery:
        try:
            discovery = Discovery.from_json(args.discovery)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KecsError(
                f"--discovery ({contract.ENV_DISCOVERY}): not the JSON kecs writes: {exc}"
            ) from None
    upstream = None
    if args.dns_upstream.lower() != "none":
        host, _, port = args.dns_upstream.rpartition(":")
        upstream = (host or args.dns_upstream, int(port) if host else 53)
    config = Config(
        emulator_url=args.emulator_url,
        service=args.service,
        region=args.region,
        role=args.role,
        kecs_dir=args.kecs_dir,
        uid=args.uid,
        proxy_port=args.proxy_port,
        credentials_port=args.credentials_port,
        dns_port=args.dns_port,
        dns_upstream=upstream,
        capture=contract.CAPTURE_NONE if args.no_capture else args.capture,
        state_dir=args.state_dir or None,
        observed_dir=args.observed_dir or None,
        routes=tuple(routes),
        task=task,
        discovery=discovery,
        private_zones=args.private_zones,
    )
    try:
        config.routing  # noqa: B018 - validates the URLs
    except ValueError as exc:
        raise KecsError(str(exc)) from None
    if args.check:
        ready, why = check(config)
        print(f"kecs proxy: {why}")
        return 0 if ready else 1
    setup_logging()
    if args.hold:
        return hold(config)
    return run(config)
