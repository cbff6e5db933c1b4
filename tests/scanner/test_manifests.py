from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from kecs.scanner.engine import ScanOptions, scan_path


def scan_manifest(tmp_path: Path, name: str, text: str) -> list[tuple[int, str, tuple[str, ...], str]]:
    (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert not report.skipped, report.skipped
    return [(f.line, f.sdk, f.services, f.language) for f in report.findings if f.kind == "manifest"]


def test_requirements_txt(tmp_path: Path) -> None:
    found = scan_manifest(
        tmp_path,
        "requirements-dev.txt",
        """
        # AWS
        boto3==1.26.0
        boto==2.49.0
        botocore>=1.29 ; python_version > "3.8"
        boto3-stubs[s3,sqs]==1.26.0
        types-aiobotocore-dynamodb
        -r base.txt
        requests
        """,
    )
    assert found == [
        (2, "boto3", (), "python"),
        (4, "botocore", (), "python"),
        (5, "boto3", ("s3", "sqs"), "python"),
        (6, "aiobotocore", ("dynamodb",), "python"),
    ]


def test_pyproject_pep621_and_poetry(tmp_path: Path) -> None:
    found = scan_manifest(
        tmp_path,
        "pyproject.toml",
        """
        [project]
        name = "svc"
        dependencies = ["aioboto3>=12", "httpx"]

        [project.optional-dependencies]
        aws = ["mypy-boto3-sqs"]

        [tool.poetry.dependencies]
        python = "^3.11"
        boto3 = { version = "^1.34", extras = ["crt"] }
        """,
    )
    assert found == [
        (3, "aioboto3", (), "python"),
        (6, "boto3", ("sqs",), "python"),
        (10, "boto3", (), "python"),
    ]


def test_pipfile_and_locks(tmp_path: Path) -> None:
    (tmp_path / "Pipfile.lock").write_text(json.dumps({"default": {"boto3": {}}, "develop": {}}, indent=2))
    (tmp_path / "poetry.lock").write_text('[[package]]\nname = "botocore"\nversion = "1.0"\n')
    found = scan_manifest(tmp_path, "Pipfile", '[packages]\nboto3 = "*"\n\n[dev-packages]\npytest = "*"\n')
    assert found == [(2, "boto3", (), "python"), (3, "boto3", (), "python"), (2, "botocore", (), "python")]


def test_package_json_and_locks(tmp_path: Path) -> None:
    (tmp_path / "yarn.lock").write_text('"@aws-sdk/client-sqs@^3.400.0":\n  version "3.400.0"\n')
    (tmp_path / "package-lock.json").write_text(
        json.dumps({"packages": {"": {}, "node_modules/aws-sdk": {"version": "2.1"}}}, indent=2)
    )
    (tmp_path / "pnpm-lock.yaml").write_text(
        "packages:\n\n  '@aws-sdk/lib-dynamodb@3.5.0':\n    resolution: {}\n"
    )
    found = scan_manifest(
        tmp_path,
        "package.json",
        """
        {
          "name": "web",
          "dependencies": {"@aws-sdk/client-s3": "^3.0.0", "express": "4"},
          "devDependencies": {"@aws-sdk/client-cloudwatch-logs": "^3.0.0"}
        }
        """,
    )
    assert found == [
        (3, "aws-sdk-js-v3", ("s3",), "javascript"),
        (4, "aws-sdk-js-v3", ("logs",), "javascript"),
    ]
    # What only the locks name (none of it is in package.json) is installed, not the app's own.
    installed = [
        (f.path, f.line, f.sdk, f.services)
        for f in scan_path(str(tmp_path), ScanOptions(jobs=1)).findings
        if f.kind == "installed"
    ]
    assert sorted(installed) == [
        ("package-lock.json", 4, "aws-sdk-js", ()),
        ("pnpm-lock.yaml", 3, "aws-sdk-js-v3", ("dynamodb",)),
        ("yarn.lock", 1, "aws-sdk-js-v3", ("sqs",)),
    ]


def test_go_mod(tmp_path: Path) -> None:
    found = scan_manifest(
        tmp_path,
        "go.mod",
        """
        module example.com/app

        go 1.21

        require github.com/aws/aws-sdk-go v1.44.0

        require (
            github.com/aws/aws-sdk-go-v2 v1.24.0
            github.com/aws/aws-sdk-go-v2/service/sqs v1.29.0
            github.com/aws/aws-sdk-go-v2/service/dynamodb v1.26.0 // indirect
            github.com/aws/smithy-go v1.19.0
        )
        """,
    )
    assert found == [
        (5, "aws-sdk-go", (), "go"),
        (8, "aws-sdk-go-v2", (), "go"),
        (9, "aws-sdk-go-v2", ("sqs",), "go"),
        (10, "aws-sdk-go-v2", ("dynamodb",), "go"),
    ]


def test_pom_and_gradle(tmp_path: Path) -> None:
    (tmp_path / "build.gradle.kts").write_text(
        'dependencies {\n    implementation("aws.sdk.kotlin:s3:1.0.0")\n'
        '    implementation(platform("software.amazon.awssdk:bom:2.20.0"))\n}\n'
    )
    found = scan_manifest(
        tmp_path,
        "pom.xml",
        """
        <project xmlns="http://maven.apache.org/POM/4.0.0">
          <dependencies>
            <dependency>
              <groupId>software.amazon.awssdk</groupId>
              <artifactId>dynamodb-enhanced</artifactId>
            </dependency>
            <dependency>
              <groupId>com.amazonaws</groupId>
              <artifactId>aws-java-sdk-sqs</artifactId>
            </dependency>
          </dependencies>
        </project>
        """,
    )
    assert found == [
        (2, "aws-sdk-kotlin", ("s3",), "kotlin"),
        (3, "aws-sdk-java-v2", (), "java"),
        (5, "aws-sdk-java-v2", ("dynamodb",), "java"),
        (9, "aws-sdk-java", ("sqs",), "java"),
    ]


def test_ruby_php_dotnet_rust(tmp_path: Path) -> None:
    (tmp_path / "Gemfile").write_text(
        "source 'https://rubygems.org'\ngem 'aws-sdk-s3', '~> 1'\ngem 'rails'\n"
    )
    (tmp_path / "Gemfile.lock").write_text(
        "GEM\n  specs:\n    aws-sdk-sqs (1.70.0)\n      aws-sdk-core (~> 3)\n"
    )
    (tmp_path / "composer.json").write_text('{\n  "require": {"aws/aws-sdk-php": "^3.0"}\n}\n')
    (tmp_path / "Api.csproj").write_text(
        '<Project>\n  <ItemGroup>\n    <PackageReference Include="AWSSDK.DynamoDBv2" Version="3.7.0" />\n'
        '    <PackageReference Include="AWSSDK.Core" Version="3.7.0" />\n  </ItemGroup>\n</Project>\n'
    )
    found = scan_manifest(
        tmp_path,
        "Cargo.toml",
        '[dependencies]\naws-config = "1"\naws-sdk-s3 = { version = "1" }\ntokio = "1"\n',
    )
    assert found == [
        (3, "aws-sdk-net", ("dynamodb",), "csharp"),
        (4, "aws-sdk-net", (), "csharp"),
        (2, "aws-sdk-rust", (), "rust"),
        (3, "aws-sdk-rust", ("s3",), "rust"),
        (2, "aws-sdk-ruby", ("s3",), "ruby"),
        (3, "aws-sdk-ruby", ("sqs",), "ruby"),
        (2, "aws-sdk-php", (), "php"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("package.json", '{"dependencies": {"aws-sdk": ', "invalid JSON: line 1"),
        ("pyproject.toml", "[project\ndependencies = ['boto3']", "invalid TOML"),
        ("pom.xml", "<project><aws></project>", "invalid XML"),
    ],
)
def test_broken_manifests_are_skipped_with_a_reason(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    (tmp_path / name).write_text(text)
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert report.findings == []
    assert [s.path for s in report.skipped] == [name]
    assert report.skipped[0].reason.startswith(reason)


def test_package_lock_transitive_packages_are_only_installed() -> None:
    from kecs.scanner.manifests import CATALOGERS, analyze_manifest
    from kecs.scanner.services import ServiceCatalog

    lock = json.dumps(
        {
            "lockfileVersion": 3,
            "packages": {
                "": {"dependencies": {"@aws-sdk/client-s3": "^3"}},
                "node_modules/@aws-sdk/client-s3": {"version": "3.1"},
                "node_modules/@aws-sdk/client-sso": {"version": "3.1"},
                "node_modules/@aws-sdk/client-sts": {"version": "3.1"},
            },
        },
        indent=1,
    )
    cataloger = next(c for c in CATALOGERS if c.name == "package-lock")
    found = {
        (f.services, f.kind)
        for f in analyze_manifest(cataloger, "package-lock.json", lock, ServiceCatalog.load())
    }
    assert found == {(("s3",), "manifest"), (("sso",), "installed"), (("sts",), "installed")}


def test_yarn_and_pnpm_locks_read_direct_dependencies_from_package_json(tmp_path: Path) -> None:
    from kecs.scanner.engine import ScanOptions, scan_path

    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"@aws-sdk/client-sqs": "^3"}}))
    (tmp_path / "yarn.lock").write_text(
        '"@aws-sdk/client-sqs@^3":\n  version "3.1"\n"@aws-sdk/client-sso@3.1":\n  version "3.1"\n'
    )
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    found = {(f.path, f.services, f.kind) for f in report.findings}
    assert ("yarn.lock", ("sqs",), "manifest") in found
    assert ("yarn.lock", ("sso",), "installed") in found  # the SDK's own, not the app's
