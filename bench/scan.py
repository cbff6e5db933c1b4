"""Benchmark: kecs scan against ripgrep (the floor) and semgrep (a structural peer).

Generates a mixed-language tree (20,000 files by default: a tenth use an AWS SDK, a tenth
only mention one in comments and strings, the rest are unrelated code), then times, in the
same run, `kecs scan`, `rg` with an equivalent pattern and `semgrep` with equivalent
rules, on that tree and on the test environment's site-packages. Prints files/s, the
ratios and the false positives on the mention-only files.

    .venv/bin/python bench/scan.py [--files 20000] [--no-semgrep]

Needs ripgrep (Debian package `ripgrep`) and semgrep (PyPI; on PATH or $SEMGREP).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"

# What each language's SDK use looks like, and what merely mentions it.
USES = {
    "py": 'import boto3\n\ns3 = boto3.client("s3")\nq = boto3.resource("sqs")\ns3.put_object(Bucket="b", Key="k")\n',
    "js": 'const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");\nconst c = new S3Client({});\n'
    'c.send(new PutObjectCommand({ Bucket: "b" }));\n',
    "ts": 'import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";\nexport const q = new SQSClient({});\n'
    'q.send(new SendMessageCommand({ QueueUrl: "u", MessageBody: "m" }));\n',
    "go": 'package p\n\nimport (\n\t"context"\n\n\t"github.com/aws/aws-sdk-go-v2/service/s3"\n)\n\n'
    "var C = s3.NewFromConfig(cfg)\n\nfunc Put(ctx context.Context) { C.PutObject(ctx, &s3.PutObjectInput{}) }\n",
    "java": "import software.amazon.awssdk.services.s3.S3Client;\n"
    'class U { S3Client c = S3Client.create(); void p() { c.putObject(r -> r.bucket("b"), body); } }\n',
    "rb": "require 'aws-sdk-s3'\nC = Aws::S3::Client.new\nC.put_object(bucket: 'b', key: 'k')\n",
    "php": "<?php\nuse Aws\\S3\\S3Client;\n$c = new S3Client([]);\n$c->putObject(['Bucket' => 'b']);\n",
    "cs": "using Amazon.S3;\nclass U { AmazonS3Client c = new AmazonS3Client(); void P() { c.PutObjectAsync(req); } }\n",
    "rs": "use aws_sdk_s3::Client;\nfn c(cfg: &aws_config::SdkConfig) -> Client { Client::new(cfg) }\n",
}
# The operation each language's use above performs (Rust's names none).
OPERATIONS = {"py": "PutObject", "js": "PutObject", "ts": "SendMessage", "go": "PutObject", "java": "PutObject",
              "rb": "PutObject", "php": "PutObject", "cs": "PutObject"}  # fmt: skip
# What rg can say about operations: lines that look like one of those calls.
RG_OPERATIONS = r"put_object|PutObject|putObject|SendMessage"
DECOYS = {
    "py": '# import boto3\n"""Call boto3.client("s3") elsewhere."""\nNOTE = "import boto3"\n',
    "js": '// const AWS = require("aws-sdk");\nconst s = "@aws-sdk/client-s3";\n',
    "ts": '/* import { S3Client } from "@aws-sdk/client-s3" */\nexport const s = "aws-sdk";\n',
    "go": 'package p\n\n// import "github.com/aws/aws-sdk-go/service/s3"\nvar S = "aws-sdk-go"\n',
    "java": '// import com.amazonaws.services.s3.AmazonS3;\nclass D { String s = "software.amazon.awssdk"; }\n',
    "rb": "# require 'aws-sdk-s3'\nS = \"Aws::S3::Client.new\"\n",
    "php": '<?php\n// use Aws\\S3\\S3Client;\n$s = "Aws\\\\S3";\n',
    "cs": '// using Amazon.S3;\nclass D { string s = "new AmazonS3Client()"; }\n',
    "rs": '// use aws_sdk_s3::Client;\nconst S: &str = "aws_sdk_s3";\n',
}
FILLER = {
    "py": "def f{i}(x):\n    total = 0\n    for v in range(x):\n        total += v * {i}\n    return total\n\n",
    "js": "function f{i}(x) {{\n  let t = 0;\n  for (let v = 0; v < x; v++) t += v * {i};\n  return t;\n}}\n",
    "ts": "export function f{i}(x: number): number {{\n  let t = 0;\n  for (let v = 0; v < x; v++) t += v * {i};\n  return t;\n}}\n",
    "go": "func F{i}(x int) int {{\n\tt := 0\n\tfor v := 0; v < x; v++ {{\n\t\tt += v * {i}\n\t}}\n\treturn t\n}}\n",
    "java": "class F{i} {{ int f(int x) {{ int t = 0; for (int v = 0; v < x; v++) t += v * {i}; return t; }} }}\n",
    "rb": "def f{i}(x)\n  (0...x).sum {{ |v| v * {i} }}\nend\n",
    "php": "function f{i}($x) {{ $t = 0; for ($v = 0; $v < $x; $v++) {{ $t += $v * {i}; }} return $t; }}\n",
    "cs": "class F{i} {{ int F(int x) {{ var t = 0; for (var v = 0; v < x; v++) t += v * {i}; return t; }} }}\n",
    "rs": "fn f{i}(x: u64) -> u64 {{ (0..x).map(|v| v * {i}).sum() }}\n",
}
PREAMBLE = {"go": "package p\n\n", "php": "<?php\n"}

RG_PATTERN = (
    r"import boto3|from boto3|boto3\.(client|resource)|require\(.aws-sdk|@aws-sdk/|aws-sdk-go"
    r"|com\.amazonaws|software\.amazon\.awssdk|aws-sdk-[a-z]|Aws\\|Aws::|using Amazon\.|aws_sdk_"
)
SEMGREP_RULES = """
rules:
  - {id: py-import, languages: [python], severity: INFO, message: boto3,
     pattern-either: [{pattern: import boto3}, {pattern: boto3.client(...)}, {pattern: boto3.resource(...)}]}
  - {id: js-v3, languages: [javascript, typescript], severity: INFO, message: sdk,
     pattern-either: [{pattern: require("=~/^(aws-sdk|@aws-sdk)/")}, {pattern: import $X from "=~/^(aws-sdk|@aws-sdk)/"},
                      {pattern: "import { $X } from '=~/^@aws-sdk/'"}]}
  - {id: go-sdk, languages: [go], severity: INFO, message: sdk, pattern: import "=~/^github.com/aws/aws-sdk-go/"}
  - {id: java-sdk, languages: [java], severity: INFO, message: sdk,
     pattern-either: [{pattern: import software.amazon.awssdk.$X;}, {pattern: import com.amazonaws.$X;}]}
  - {id: rb-sdk, languages: [ruby], severity: INFO, message: sdk, pattern: require "=~/^aws-sdk/"}
  - {id: php-sdk, languages: [php], severity: INFO, message: sdk, pattern: new Aws\\$X\\$Y(...)}
  - {id: cs-sdk, languages: [csharp], severity: INFO, message: sdk, pattern: new $C(...)}
  - {id: rs-sdk, languages: [rust], severity: INFO, message: sdk, pattern: Client::new(...)}
"""


def generate(root: Path, count: int, share: float) -> tuple[set[str], set[str]]:
    """Write the tree once (reused while the count matches); returns (using, decoy) paths."""
    marker = root / ".generated"
    rng = random.Random(42)
    langs = sorted(USES)
    plan = []
    for i in range(count):
        lang = langs[i % len(langs)]
        roll = rng.random()
        kind = "use" if roll < share / 2 else "decoy" if roll < share else "plain"
        plan.append((f"mod{i % 97}/pkg{i % 13}/f{i}.{lang}", lang, kind, rng.randrange(20, 60)))
    using = {p for p, _, k, _ in plan if k == "use"}
    decoys = {p for p, _, k, _ in plan if k == "decoy"}
    if marker.exists() and marker.read_text() == f"{count} {share}":
        return using, decoys
    shutil.rmtree(root, ignore_errors=True)
    for rel, lang, kind, n in plan:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        head = USES[lang] if kind == "use" else DECOYS[lang] if kind == "decoy" else PREAMBLE.get(lang, "")
        body = "".join(FILLER[lang].format(i=j) for j in range(n))
        path.write_text(head + "\n" + body)
    marker.write_text(f"{count} {share}")
    return using, decoys


def timed(cmd: list[str], runs: int = 3) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        if elapsed < best:
            best, out = elapsed, proc.stdout
    return best, out


def _autopilot(autopilot: str, tree: Path, files: set[str]) -> tuple[float, None, str]:
    """iam-policy-autopilot on the tree's files of each language it reads (one language per
    run). It looks up AWS's service reference over the network; offline, its error is the result."""
    env = {**os.environ, "DISABLE_IAM_POLICY_AUTOPILOT_TELEMETRY": "true"}
    total, actions, errors = 0.0, set(), set()
    for exts in (("py",), ("js", "ts"), ("go",), ("java",)):
        sources = sorted(str(tree / p) for p in files if p.rsplit(".", 1)[1] in exts)
        started = time.perf_counter()
        done = subprocess.run([autopilot, "generate-policies", *sources, "--region", "us-east-1",
                               "--account", "123456789012"], capture_output=True, text=True, env=env)  # fmt: skip
        total += time.perf_counter() - started
        if done.returncode != 0:
            error = next(
                (ln for ln in done.stderr.splitlines() if ln.startswith("Error")), done.stderr[-200:]
            )
            offline = "service reference endpoint" in error
            errors.add(
                f"{'/'.join(exts)}: " + ("offline (AWS's service reference)" if offline else error[7:90])
            )
            continue
        actions |= {a for pol in json.loads(done.stdout).get("Policies", [])
                    for st in pol.get("Policy", {}).get("Statement", [])
                    for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}  # fmt: skip
    if errors:
        return total, None, "failed: " + "; ".join(sorted(errors))
    return total, None, f"{len(actions)} IAM actions for the tree"


def _parse_floor(tree: Path, report: dict[str, object]) -> float:
    """tree-sitter parsing alone of the files kecs parsed, in this process, divided by the
    CPUs: what a scan that parses those files cannot go below."""
    from tree_sitter import Language, Parser

    from kecs.scanner.engine import worth_parsing
    from kecs.scanner.languages import by_extension

    specs = by_extension()
    parsers: dict[str, Parser] = {}
    blobs = []
    for path in sorted(tree.rglob("*.*")):
        spec = specs.get(path.suffix)
        if spec is not None and worth_parsing(spec, data := path.read_bytes()):
            blobs.append((path.suffix, spec, data))
    started = time.perf_counter()
    for suffix, spec, data in blobs:
        parser = parsers.get(suffix) or parsers.setdefault(suffix, Parser(Language(spec.grammar())))
        parser.parse(data)
    return (time.perf_counter() - started) / (os.cpu_count() or 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument(
        "--aws-share",
        type=float,
        default=0.2,
        help="share of files that use or mention an AWS SDK (half each); default 0.2",
    )
    parser.add_argument("--no-semgrep", action="store_true")
    args = parser.parse_args()
    rg = shutil.which("rg")
    if rg is None:
        sys.exit("needs ripgrep: apt-get install ripgrep")
    semgrep = os.environ.get("SEMGREP") or shutil.which("semgrep")
    if semgrep is None and not args.no_semgrep:
        sys.exit("needs semgrep (pip install semgrep; or set SEMGREP=/path/to/semgrep), or pass --no-semgrep")
    kecs = [sys.executable, "-m", "kecs", "scan", "--format", "json", "-q"]

    tree = WORK / f"tree-{args.aws_share}"
    using, decoys = generate(tree, args.files, args.aws_share)
    site = sysconfig.get_paths()["purelib"]
    n_site = sum(len(files) for _, _, files in os.walk(site))
    print(
        f"tree: {args.files} files ({len(using)} using an SDK, {len(decoys)} mention-only); "
        f"site-packages: {site} ({n_site} files); {os.cpu_count()} CPUs"
    )

    rows = []
    for label, target, kecs_extra, rg_extra in (
        ("generated tree", tree, [], []),
        ("site-packages", Path(site), ["--include-dependencies", "--no-ignore"], ["-uu"]),
    ):
        t_kecs, out = timed([*kecs, *kecs_extra, str(target)])
        report = json.loads(out)
        t_rg, rg_out = timed([rg, "-l", *rg_extra, "-e", RG_PATTERN, str(target)])
        rows.append((label, target, t_kecs, t_rg, report, rg_out))

    print(f"\n{'':16} {'kecs s':>8} {'rg s':>8} {'kecs/rg':>8} {'kecs files/s':>13}")
    for label, _, t_kecs, t_rg, report, _ in rows:
        files = report["stats"]["files_seen"]
        print(f"{label:16} {t_kecs:8.2f} {t_rg:8.2f} {t_kecs / t_rg:8.2f} {files / t_kecs:13.0f}")

    # The generated tree, every tool in one table: time, files flagged, operations found.
    _, _, t_kecs, t_rg, report, rg_out = rows[0]
    expected = {p: OPERATIONS[p.rsplit(".", 1)[1]] for p in using if p.rsplit(".", 1)[1] in OPERATIONS}
    table = []
    kecs_files = {f["path"] for f in report["findings"] if f["kind"] in ("import", "client")}
    kecs_ops = {(f["path"], f["operation"]) for f in report["findings"] if f["kind"] == "call"}
    table.append(
        (
            "kecs scan",
            t_kecs,
            kecs_files,
            f"{sum((p, o) in kecs_ops for p, o in expected.items())}/{len(expected)}",
        )
    )
    rg_files = {os.path.relpath(line, tree) for line in rg_out.splitlines()}
    _, rg_ops_out = timed([rg, "-l", "-e", RG_OPERATIONS, str(tree)], runs=1)
    rg_ops = {os.path.relpath(line, tree) for line in rg_ops_out.splitlines()}
    table.append(
        ("rg -l", t_rg, rg_files, f"{len(rg_ops & set(expected))}/{len(expected)} files (text, no names)")
    )
    if semgrep is not None and not args.no_semgrep:
        rules = WORK / "semgrep.yaml"
        rules.write_text(SEMGREP_RULES)
        cmd = [
            semgrep,
            "scan",
            "--config",
            str(rules),
            "--metrics=off",
            "--disable-version-check",
            "--json",
            "--quiet",
            "--jobs",
            str(os.cpu_count() or 1),
            "--max-target-bytes",
            "2000000",
            "--no-git-ignore",
            str(tree),
        ]  # fmt: skip  (the tree is under a git-ignored directory)
        t_semgrep, semgrep_out = timed(cmd, runs=1)
        flagged = {os.path.relpath(r["path"], tree) for r in json.loads(semgrep_out)["results"]}
        table.append(("semgrep", t_semgrep, flagged, "needs a rule per operation"))
    autopilot = os.environ.get("AUTOPILOT") or shutil.which("iam-policy-autopilot")
    if autopilot:
        table.append(("iam-policy-autopilot", *_autopilot(autopilot, tree, using | decoys)))
    else:
        print("iam-policy-autopilot: not installed (pip install iam-policy-autopilot; or AUTOPILOT=path)")
    t_floor = _parse_floor(tree, report)
    table.append(
        (f"parse alone / {os.cpu_count()} CPUs", t_floor, None, "the floor for any tree-sitter scan")
    )
    print(f"\ngenerated tree ({len(using)} files using an SDK, {len(decoys)} mention-only, {len(expected)} "
          "with a known operation):")  # fmt: skip
    print(f"  {'tool':22} {'s':>7} {'x rg':>6}  {'SDK files: true / on decoys':>28}  operations found")
    for name, seconds, flagged, operations in table:
        files = (
            f"{len(flagged & using)}/{len(using)} / {len(flagged & decoys)}" if flagged is not None else "-"
        )
        print(f"  {name:22} {seconds:7.2f} {seconds / t_rg:6.1f}  {files:>28}  {operations}")


if __name__ == "__main__":
    main()
