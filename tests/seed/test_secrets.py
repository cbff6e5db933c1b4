from __future__ import annotations

import pytest

from kecs.errors import KecsError
from kecs.seed.secrets import parse_secrets, parse_value_from, reference, variable

SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        (SM, ("secretsmanager", SM, "", "", "")),
        (f"{SM}:password::", ("secretsmanager", SM, "password", "", "")),
        (f"{SM}:password:AWSPREVIOUS:", ("secretsmanager", SM, "password", "AWSPREVIOUS", "")),
        (f"{SM}::AWSCURRENT:", ("secretsmanager", SM, "", "AWSCURRENT", "")),
        (f"{SM}:::v-1234", ("secretsmanager", SM, "", "", "v-1234")),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/plain", ("ssm", "plain", "", "", "")),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/app/db/pw", ("ssm", "/app/db/pw", "", "", "")),
        ("/app/db/pw", ("ssm", "/app/db/pw", "", "", "")),
        ("plain-name", ("ssm", "plain-name", "", "", "")),
        ("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/x", ("ssm", "x", "", "", "")),
    ],
)
def test_every_value_from_form_ecs_documents(value_from: str, expected: tuple[str, ...]) -> None:
    ref = parse_value_from("X", value_from)
    assert (ref.service, ref.name, ref.json_key, ref.version_stage, ref.version_id) == expected


@pytest.mark.parametrize(
    ("value_from", "why"),
    [
        ("arn:aws:s3:::bucket/key", "secretsmanager or ssm"),
        ("arn:aws:secretsmanager:us-east-1:1:db", "ends in :secret:NAME"),
        (f"{SM}:k:AWSCURRENT:v-1", "not both"),
        (f"{SM}:a:b:c:d", "at most"),
        ("arn:aws:ssm:us-east-1:1:document/x", "parameter/NAME"),
        ("has space", "neither an ARN"),
        ("", "neither an ARN"),
    ],
)
def test_bad_value_from_is_one_clear_line(value_from: str, why: str) -> None:
    with pytest.raises(KecsError, match=why):
        parse_value_from("X", value_from)


def test_service_secrets_are_validated_with_the_place() -> None:
    with pytest.raises(KecsError, match=r"^compose.yaml:9: secret name '1BAD'"):
        parse_secrets([{"name": "1BAD", "valueFrom": "x"}], "compose.yaml:9", "api")
    with pytest.raises(KecsError, match="declared twice"):
        parse_secrets([{"name": "A", "valueFrom": "x"}, {"name": "A", "valueFrom": "y"}], "c:1", "api")
    with pytest.raises(KecsError, match="takes `name` and `valueFrom`"):
        parse_secrets([{"name": "A", "value": "x"}], "c:1", "api")


def test_interpolation_variables_are_distinct_and_valid() -> None:
    names = {variable(s, e) for s in ("api", "API", "a-pi", "a.pi") for e in ("DB", "db")}
    assert len(names) == 8 and all(n.replace("_", "").isalnum() for n in names)
    assert reference("api", "DB").startswith(
        "${KECS_SECRET_API_DB_"
    ) and "?secret DB of service api" in reference("api", "DB")
