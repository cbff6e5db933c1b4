"""AWS service names: every SDK spelling mapped to botocore's client name.

botocore's client names are what `boto3.client()` takes and what LocalStack's
SERVICES lists, so they are the one vocabulary kecs reports in. The table in
data/services.json is generated from botocore by tools/gen_services.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

# SDK spellings that no botocore field gives (docs/facts.md, "Service names").
IRREGULAR = {
    "dynamodbv2": "dynamodb",  # Java v1, .NET
    "simpleemail": "ses",  # Java v1, .NET
    "simpleemailv2": "sesv2",
    "simpleemailservice": "ses",
    "simplesystemsmanagement": "ssm",  # Java v1, .NET
    "securitytoken": "sts",  # Java v1, .NET
    "securitytokenservice": "sts",
    "identitymanagement": "iam",  # Java v1, .NET
    "simplenotificationservice": "sns",  # .NET
    "kinesisfirehose": "firehose",  # Java v1, .NET
    "iotdata": "iot-data",  # JS v2
    "elasticloadbalancing": "elb",
    "cloudwatchevents": "events",
    "awslambda": "lambda",  # Go/Java v1 call it lambda; some code says AWSLambda
    "elasticmapreduce": "emr",
    "cognitoidentityserviceprovider": "cognito-idp",  # JS v2's AWS.CognitoIdentityServiceProvider
    "cognitoidentityprovider": "cognito-idp",  # Java v1, .NET
}


# Client names botocore once shipped and has since removed (the services were retired);
# code that still names them is reported as written.
RETIRED = frozenset({"qldb", "qldb-session", "alexaforbusiness", "honeycode", "worklink", "mobile",
                     "elastic-inference", "iotthingsgraph", "robomaker", "nimble"})  # fmt: skip


def normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class ServiceCatalog:
    names: frozenset[str]
    aliases: dict[str, str]
    # client name -> (endpoint prefix, signing name): how requests name the service
    endpoints: dict[str, tuple[str, str]]

    @classmethod
    def load(cls) -> ServiceCatalog:
        raw = resources.files("kecs.scanner").joinpath("data/services.json").read_text("utf-8")
        rows: list[list[str]] = json.loads(raw)["services"]
        aliases: dict[str, str] = {}
        # Earlier sources win: client name, then serviceId, then irregular SDK
        # spellings, then endpoint prefix and signing name.
        for name, *_ in rows:
            aliases.setdefault(normalize(name), name)
        for name, service_id, _, _ in rows:
            aliases.setdefault(normalize(service_id), name)
        for alias, name in IRREGULAR.items():
            aliases.setdefault(alias, name)
        for name, _, prefix, signing in rows:
            aliases.setdefault(normalize(prefix), name)
            aliases.setdefault(normalize(signing), name)
        endpoints = {name: (prefix.lower(), signing.lower()) for name, _, prefix, signing in rows}
        return cls(names=frozenset(r[0] for r in rows), aliases=aliases, endpoints=endpoints)

    def lookup(self, spelling: str) -> str | None:
        """The client name for any SDK spelling ('CloudWatchLogs', 'client-sfn', 'DynamoDBv2')."""
        if spelling in self.names:
            return spelling
        return self.aliases.get(normalize(spelling))

    def is_service(self, name: str) -> bool:
        return name in self.names

    @cached_property
    def _by_signing(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for name, (_, signing) in sorted(self.endpoints.items()):
            out.setdefault(signing, []).append(name)
        return {signing: tuple(names) for signing, names in out.items()}

    def signed_by(self, signing: str) -> tuple[str, ...]:
        """The client names whose requests carry this signing name (the proxy sees only it)."""
        return self._by_signing.get(signing, ())

    def signed_alike(self, name: str) -> tuple[str, ...]:
        """The services whose requests carry the same signing name as `name`'s (dynamodb and
        dynamodbstreams, s3 and s3control): a proxy cannot tell their signed requests apart."""
        return self.signed_by(self.endpoints[name][1])

    def request_names(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The signing names and endpoint prefixes requests to these services carry."""
        return tuple(sorted({part for n in names for part in self.endpoints[n]}))
