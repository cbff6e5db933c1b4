"""`kecs proxy`: the sidecar's entrypoint. Settings come from flags or KECS_* variables."""

from __future__ import annotations

import argparse
import os

from kecs.errors import KecsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--emulator-url", default=env("KECS_EMULATOR_URL"), help="http://HOST:PORT of the emulator"
    )
    parser.add_argument(
        "--route",
        action="append",
        default=[r for r in env("KECS_ROUTES", "").split(",") if r.strip()],
        metavar="SERVICE=URL",
        help="send one AWS service (signing name or endpoint prefix) to another emulator; repeatable",
    )
    parser.add_argument("--service", default=env("KECS_SERVICE", "app"), help="the captured compose service")
    parser.add_argument("--region", default=env("KECS_REGION", "us-east-1"))
    parser.add_argument(
        "--role", default=env("KECS_ROLE"), help="IAM role whose credentials the service gets"
    )
    parser.add_argument(
        "--kecs-dir", default=env("KECS_DIR", "/etc/kecs"), help="holds ca/intermediate.{crt,key}"
    )
    parser.add_argument(
        "--uid", type=int, default=int(env("KECS_PROXY_UID", "1337")), help="uid the proxy serves as"
    )
    parser.add_argument("--proxy-port", type=int, default=15001)
    parser.add_argument("--credentials-port", type=int, default=15002)
    parser.add_argument("--dns-port", type=int, default=15053)
    parser.add_argument(
        "--dns-upstream",
        default=env("KECS_DNS_UPSTREAM", "127.0.0.11:53"),
        help="where non-AWS names are resolved (HOST:PORT, or none)",
    )
    parser.add_argument(
        "--no-capture", action="store_true", help="serve without installing the iptables capture"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 0 when the capture and listeners are ready"
    )


def run(args: argparse.Namespace) -> int:
    from kecs.proxy.server import Config, check, run, setup_logging

    if not args.emulator_url:
        raise KecsError(
            "the proxy needs the emulator: --emulator-url http://HOST:PORT (or KECS_EMULATOR_URL)"
        )
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
        capture=not args.no_capture,
        routes=tuple(args.route),
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
    return run(config)
