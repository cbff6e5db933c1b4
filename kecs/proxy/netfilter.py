"""The capture: nat rules in the shared network namespace, modelled on Istio's.

OUTPUT jumps to KECS_OUTPUT, which lets the proxy's own uid through (the loop breaker),
redirects DNS for Docker's resolver to the proxy's DNS port, lets loopback and the
emulator through, captures the metadata and container-credential addresses, and sends
every other TCP 443 and 80 to the proxy. The rules are data; `install` and `remove`
run them with the iptables backend the namespace already uses.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

CHAIN = "KECS_OUTPUT"
DOCKER_DNS = "127.0.0.11"
METADATA_ADDRESSES = ("169.254.169.254", "169.254.170.2")


class NetfilterError(RuntimeError):
    pass


@dataclass(frozen=True)
class Capture:
    proxy_uid: int
    proxy_port: int
    credentials_port: int
    dns_port: int
    emulator_addresses: tuple[str, ...] = ()
    ports: tuple[int, ...] = (443, 80)

    def rules(self) -> list[list[str]]:
        """iptables arguments (nat table), in order."""
        chain = ["-t", "nat", "-A", CHAIN]
        out: list[list[str]] = [["-t", "nat", "-N", CHAIN]]
        out.append([*chain, "-m", "owner", "--uid-owner", str(self.proxy_uid), "-j", "RETURN"])
        for protocol in ("udp", "tcp"):  # before the loopback exception: 127.0.0.11 is loopback
            out.append([*chain, "-p", protocol, "-d", DOCKER_DNS, "--dport", "53", "-j", "REDIRECT",
                        "--to-ports", str(self.dns_port)])  # fmt: skip
        out.append([*chain, "-d", "127.0.0.0/8", "-j", "RETURN"])
        for address in self.emulator_addresses:
            out.append([*chain, "-d", address, "-j", "RETURN"])
        for address in METADATA_ADDRESSES:
            out.append([*chain, "-p", "tcp", "-d", address, "--dport", "80", "-j", "REDIRECT",
                        "--to-ports", str(self.credentials_port)])  # fmt: skip
        for port in self.ports:
            out.append(
                [
                    *chain,
                    "-p",
                    "tcp",
                    "--dport",
                    str(port),
                    "-j",
                    "REDIRECT",
                    "--to-ports",
                    str(self.proxy_port),
                ]
            )
        # First in OUTPUT: before Docker's own DNS rule (DOCKER_OUTPUT), as docs/facts.md says.
        out.append(["-t", "nat", "-I", "OUTPUT", "1", "-j", CHAIN])
        return out


def detect_backend() -> str:
    """`iptables-legacy` when the namespace's rules live there (older Docker), else nft."""
    legacy = shutil.which("iptables-legacy")
    if legacy:
        listed = subprocess.run([legacy, "-t", "nat", "-S"], capture_output=True, text=True)
        if listed.returncode == 0 and any(line.startswith("-A ") for line in listed.stdout.splitlines()):
            return legacy
    for name in ("iptables-nft", "iptables"):
        found = shutil.which(name)
        if found:
            return found
    raise NetfilterError("no iptables binary found (install the iptables package in the proxy image)")


def _run(binary: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "-w", *args], capture_output=True, text=True)


def install(capture: Capture, binary: str | None = None) -> str:
    """Install the rules (replacing an earlier set); returns the backend used."""
    binary = binary or detect_backend()
    remove(binary)
    for args in capture.rules():
        result = _run(binary, args)
        if result.returncode != 0:
            remove(binary)
            raise NetfilterError(f"{binary} {' '.join(args)}: {result.stderr.strip()}")
    return binary


def remove(binary: str | None = None) -> None:
    binary = binary or detect_backend()
    while _run(binary, ["-t", "nat", "-D", "OUTPUT", "-j", CHAIN]).returncode == 0:
        pass
    _run(binary, ["-t", "nat", "-F", CHAIN])
    _run(binary, ["-t", "nat", "-X", CHAIN])


def installed(capture: Capture, binary: str | None = None) -> bool:
    """True when OUTPUT jumps to the chain and every rule of the chain is in place."""
    binary = binary or detect_backend()
    if _run(binary, ["-t", "nat", "-C", "OUTPUT", "-j", CHAIN]).returncode != 0:
        return False
    for args in capture.rules():
        if args[2] == "-A" and _run(binary, [args[0], args[1], "-C", *args[3:]]).returncode != 0:
            return False
    return True


def listing_matches(capture: Capture, listing: str, exact: bool = True) -> bool:
    """Whether `iptables -t nat -S` output shows OUTPUT's jump and the whole chain. Pure.

    Not `exact`: `capture` lacks the emulator addresses, so the chain may hold more."""
    lines = [line.strip() for line in listing.splitlines()]
    expected = sum(1 for args in capture.rules() if args[2] == "-A")
    jump = any(line.startswith("-A OUTPUT ") and line.endswith(f"-j {CHAIN}") for line in lines)
    count = sum(1 for line in lines if line.startswith(f"-A {CHAIN} "))
    return jump and (count == expected if exact else count >= expected)


def installed_quickly(capture: Capture, binary: str | None = None, exact: bool = True) -> bool:
    """`installed` with one iptables run (the rule count, not each rule): the health watch's."""
    binary = binary or detect_backend()
    listed = _run(binary, ["-t", "nat", "-S"])
    return listed.returncode == 0 and listing_matches(capture, listed.stdout, exact)
