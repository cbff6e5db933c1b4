"""Source analysis with tree-sitter: one engine, one small spec per language.

Each language (kecs/scanner/languages/*.py) declares its grammar, a query whose
captures use the names below, and how its import paths and qualified call names
map to an SDK and services. The engine runs the query once per file, resolves local
names through imports and simple bindings, and turns what it sees into findings.

Capture names a language query may use:
  @import, @import.module, @import.name, @import.alias   an import / use / require
  @call, @call.callee, @call.args                       a call or a `new`
  @bind, @bind.name, @bind.value                        `name = <call>`
  @factory, @factory.name, @factory.params,             a function that returns a client of
    @factory.call, @factory.callee, @factory.args       the service its parameter names
  @string                                               a string literal (lint)
  @pair, @pair.key, @pair.value                         keyword argument / map entry
  @envtarget                                            left side of an assignment
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor

from kecs.operations import OperationCatalog
from kecs.scanner import lint
from kecs.scanner.model import Finding
from kecs.scanner.services import ServiceCatalog


@dataclass(frozen=True)
class Use:
    """What a language rule recognised: an SDK and the services it names."""

    sdk: str
    services: tuple[str, ...] = ()
    # A lock file's transitive package (an SDK's own client-sso): the code may never call
    # it, so it is reported as installed, not as the service's use.
    transitive: bool = False


class Call:
    """A call or `new`, its callee qualified through the file's imports.

    Arguments are read on first use: most calls in a file are never asked for them.
    """

    def __init__(
        self,
        node: Node,
        callee: str,
        read_arguments: Callable[[], tuple[list[str | None], dict[str, str | None]]],
        local: str | None = None,
        member: str = "",
    ) -> None:
        self.node = node
        self.callee = callee  # arguments elided: "boto3.session.Session().client"
        self._read_arguments = read_arguments
        # The callee as written: its first name (`s3`) and the rest (`.put_object`).
        self.local = local
        self.member = member
        self.args_node: Node | None = None

    def on(self, local: str, member: str) -> Call:
        """This call as made on the client named `local` (a field, a parameter, a client
        built in the same expression), its arguments read the same way."""
        made = Call(self.node, self.callee, self._read_arguments, local, member)
        made.args_node = self.args_node
        return made

    @cached_property
    def _arguments(self) -> tuple[list[str | None], dict[str, str | None]]:
        return self._read_arguments()

    @property
    def args(self) -> list[str | None]:
        """Positional arguments: the literal string, or None where not a literal."""
        return self._arguments[0]

    @property
    def kwargs(self) -> dict[str, str | None]:
        return self._arguments[1]

    def read_args(self) -> list[str | None]:
        return self.args


@dataclass(frozen=True)
class Layout:
    """What a scanned tree says about how its files import each other."""

    # Directories holding a go.mod (relative, "" for the root) -> the module path it declares.
    go_modules: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Context:
    """What a classifier may consult about the file being analysed."""

    catalog: ServiceCatalog
    imported_sdks: list[str] = field(default_factory=list)
    # Wildcard imports (`import software.amazon.awssdk.services.s3.*;`), for
    # languages whose classifiers resolve bare class names against them.
    wildcards: list[str] = field(default_factory=list)

    @staticmethod
    def operations() -> OperationCatalog:
        return OperationCatalog.load()


ImportBinder = Callable[[str, "str | None", "str | None"], list[tuple[str, str]]]
NameBinder = Callable[[Node, bytes, str], list[tuple[str, str]]]
ImportClassifier = Callable[[str, Context], "Use | None"]
CallClassifier = Callable[[Call, Context], "tuple[str, Use] | None"]
# A function returning a client: (the position of the parameter naming its service, or -1
# when it always makes one service's client; what it makes).
Factory = tuple[int, "Use"]
# (file path, its bytes, the project's layout) -> the module names it is imported by.
ModuleNames = Callable[[str, bytes, "Layout"], list[str]]
# (the call's callee through the file's imports, the file's path, its bytes) -> the
# qualified name of what it calls as module_names spells it, or None.
ImportedName = Callable[[str, str, bytes], "str | None"]
# -> (service, the operation as the code spells it) for calls that name an operation
# without a client variable (`new PutObjectCommand(...)`).
OperationClassifier = Callable[[Call, Context], "tuple[str, str] | None"]


def code_line(pattern: bytes) -> re.Pattern[bytes]:
    """`pattern` somewhere on a line that does not start a comment (#, //, /*, or a block
    comment's `*` continuation): the shape of most languages' SDK gates."""
    return re.compile(rb"^[ \t]*+(?!#|//|/\*|\*)[^\n]*?(?:" + pattern + rb")", re.M)


def default_bind_names(node: Node, src: bytes, qualified: str) -> list[tuple[str, str]]:
    return [(text(node, src), qualified)]


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    extensions: tuple[str, ...]
    grammar: Callable[[], Any]
    query: str  # imports, calls, bindings
    lint_query: str  # strings, keyword arguments, assignments: only for lint
    string_types: frozenset[str]
    classify_import: ImportClassifier
    # -> ("client" | "import", Use): calls can be dynamic imports too.
    classify_call: CallClassifier
    bind_import: ImportBinder
    # Bytes that show a file may use the SDK: an import (or a client named the way only
    # code using the SDK names it) on a line that is not a comment. Files that match
    # neither this nor a lint needle are never parsed (kecs.scanner.engine.worth_parsing).
    sdk_gate: re.Pattern[bytes]
    bind_names: NameBinder = default_bind_names
    interpolation_types: frozenset[str] = frozenset()
    # Argument wrapper nodes to look through (`argument`, `value_argument`).
    arg_wrappers: frozenset[str] = frozenset()
    # Keyword-argument nodes inside argument lists: (type, name field, value field).
    keyword_arg: tuple[str, str, str] | None = None
    classify_operation: OperationClassifier | None = None
    # Client methods an SDK adds beside the service's operations, and what they send
    # (boto3's s3.upload_file: PutObject, or a multipart upload).
    helper_operations: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    # Calls that load a module by name (`require("./aws")`): a binding to one names the module.
    loaders: frozenset[str] = frozenset()
    # Factories across modules (kecs.scanner.engine's second pass): the names other files
    # give this file's top-level definitions (`app.aws`, `src/aws`), and the name a call
    # resolves to in the importing file (`client_for` -> `app.aws.client_for`).
    module_names: ModuleNames | None = None
    imported_name: ImportedName | None = None
    # Declarations with a type (`client *s3.Client`, `@Autowired private SqsClient sqs;`):
    # captures @typed.name and @typed.type (added to `query`); `classify_type` says which
    # client a qualified type is. A name so declared is that service's client.
    typed_query: str = ""
    classify_type: Callable[[str, Context], Use | None] | None = None


def text(node: Node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


_STRING_PREFIX = re.compile(r"""^(?:[rRbBuUfF@$]{1,3}#*)(?=["'`])""")
_QUOTES = ('"""', "'''", '"', "'", "`")


def strip_quotes(raw: str) -> str:
    prefix = _STRING_PREFIX.match(raw)
    if prefix:
        raw = raw[prefix.end() :]
        if "#" in prefix.group(0):  # Rust raw strings: r#"..."#
            raw = raw.rstrip("#")
    for quote in _QUOTES:
        if len(raw) >= 2 * len(quote) and raw.startswith(quote) and raw.endswith(quote):
            return raw[len(quote) : -len(quote)]
    return raw


def _has_interpolation(node: Node, types: frozenset[str]) -> bool:
    return any(child.type in types for child in node.named_children)


_SPACE = re.compile(r"\s+")
_INNERMOST_ARGUMENTS = re.compile(r"\([^()]*\)")


def elide_arguments(callee: str) -> str:
    """`a.b(x, f(y)).c` -> `a.b().c`; whitespace dropped."""
    callee = _SPACE.sub("", callee)
    while "(" in callee:
        elided = _INNERMOST_ARGUMENTS.sub("\x00", callee)
        if elided == callee:  # unbalanced: leave the rest as it is
            break
        callee = elided
    return callee.replace("\x00", "()")


_HEAD = re.compile(r"(?:@@?|[$\\])?[A-Za-z_][\w$]*")  # also Ruby's @s3, PHP's $s3
# `.put_object`, `->putObject`: one member called on the client.
_METHOD = re.compile(r"(?:\.|->)([A-Za-z_]\w*)")
_HELPERS = ("get_paginator", "can_paginate")


def _parameter_names(params: Node, src: bytes) -> list[str]:
    """A parameter list's names, in order (`(self, s3_client, bucket="b", *rest)`)."""
    out = []
    for param in params.named_children:
        if param.type == "identifier":
            out.append(text(param, src))
        elif param.type in ("typed_parameter", "default_parameter", "typed_default_parameter"):
            head = param.child_by_field_name("name") or (
                param.named_children[0] if param.named_child_count else None
            )
            if head is not None and head.type == "identifier":
                out.append(text(head, src))
    return out


_NAME_TYPES = frozenset({"identifier", "variable_name", "simple_identifier"})
_RECORD_TYPES = frozenset({"dictionary", "object", "hash", "array_creation_expression", "composite_literal"})
_MEMBER_NAMES = re.compile(r"(?:\.|->)([A-Za-z_]\w*)")
_LAST_METHOD = re.compile(r"(?:\.|->)([A-Za-z_]\w*)$")
# `.Table`, `.Bucket`: a boto3 resource's sub-resource; `.table(...)`: Java's DynamoDB enhanced
# client's table, `.getTable(...)`: its v1 document API's.
_RESOURCE_OBJECT = re.compile(r"\.([A-Z]\w*|table|getTable)")
# What a sub-resource's first identifier is, as the operations' parameter names it.
_IDENTIFIERS = {"Table": "TableName", "Bucket": "Bucket", "Queue": "QueueUrl", "Topic": "TopicArn",
                "Object": "Bucket", "Stream": "StreamName", "Function": "FunctionName",
                "table": "TableName", "getTable": "TableName"}  # fmt: skip
# Parameters that name what an operation acts on, where the code gives them literally.
RESOURCE_PARAMETERS = (
    "Bucket", "Key", "Prefix", "TableName", "QueueName", "QueueUrl", "TopicArn", "TargetArn", "SecretId",
    "Name", "StreamName", "FunctionName", "logGroupName", "StateMachineArn",
)  # fmt: skip


# Each parameter however an SDK spells it: Bucket, bucket (Ruby's bucket:), queue_url, QueueURL.
_PARAMETER_SPELLINGS = {name.lower(): name for name in RESOURCE_PARAMETERS}


def _resource(call: Call) -> str:
    """`Bucket=b,Key=k`: the literal resource parameters of a call (keyword arguments)."""
    try:
        kwargs = call.kwargs
    except Exception:  # arguments the spec cannot read: no resource, the operation stands
        return ""
    return ",".join(f"{k}={kwargs[k]}" for k in RESOURCE_PARAMETERS if kwargs.get(k))


class FileAnalyzer:
    """Runs one language's query over files; holds the parser and compiled query."""

    def __init__(self, spec: LanguageSpec, catalog: ServiceCatalog) -> None:
        self.spec = spec
        self.catalog = catalog
        language = Language(spec.grammar())
        self.parser = Parser(language)
        self.query = Query(language, spec.query + spec.typed_query)
        self.lint_query = Query(language, spec.lint_query)

    def literal(self, node: Node, src: bytes) -> str | None:
        spec = self.spec
        while node.type in spec.arg_wrappers and node.named_child_count == 1:
            child = node.named_children[0]
            assert child is not None
            node = child
        constant = self._constants.get(text(node, src)) if node.type in _NAME_TYPES else None
        if constant is not None:
            node = constant  # `Bucket=BUCKET`, `TableName: TABLE`: the file's one string for it
        if node.type not in spec.string_types:
            return None
        if _has_interpolation(node, spec.interpolation_types):
            return None
        return strip_quotes(text(node, src))

    def _literal_node(self, node: Node) -> Node | None:
        """The string literal a value is or wraps: `"x"`, `aws.String("x")`, `URI.create("x")`."""
        types = self.spec.string_types
        if node.type in types:
            return node
        strings = [c for c in _descendants(node, depth=4) if c.type in types]
        return strings[0] if len(strings) == 1 else None

    def analyze(
        self,
        rel_path: str,
        src: bytes,
        imported_factories: Mapping[str, Factory] | None = None,
        passed_clients: Mapping[str, Mapping[int, Use]] | None = None,
    ) -> list[Finding]:
        """The file's findings. `imported_factories`: client factories other modules define,
        by qualified name; `passed_clients`: the clients other modules hand to this file's
        functions (function -> parameter position -> the client). Afterwards
        `defined_factories` holds the file's own factories, `used_imported_factory` says
        whether a call went through an imported one, and `handoffs` lists the clients this
        file hands to other modules' functions (qualified function, position, client)."""
        spec = self.spec
        self.defined_factories: dict[str, Factory] = {}
        self.used_imported_factory = False
        self.handoffs: list[tuple[str, int, Use]] = []
        tree = self.parser.parse(src)
        self._constants: dict[str, Node] = {}
        self._records: dict[str, Node] = {}
        matches = QueryCursor(self.query).matches(tree.root_node)
        if lint.might_apply(src):
            matches += QueryCursor(self.lint_query).matches(tree.root_node)
        ctx = Context(catalog=self.catalog)
        aliases: dict[str, str] = {}
        findings: list[Finding] = []
        binds: list[tuple[Node, Node]] = []
        calls: list[tuple[Node, Node | None, Node | None]] = []
        strings: list[Node] = []
        pairs: list[tuple[Node, Node]] = []
        env_targets: list[Node] = []
        emitted_imports: set[int] = set()
        clients: dict[str, str] = {}  # local names of one service's clients -> the service
        named: dict[str, str] = {}  # resource objects' names -> what they name ("TableName=orders")
        client_sdks: dict[str, str] = {}  # the SDK each client came from
        factory_defs: list[tuple[str, Node, Node, Node | None, Node | None]] = []
        typed: list[tuple[Node, Node]] = []
        # `def clients(): return boto3.client("sqs"), boto3.client("sns")` and
        # `sqs, sns = clients()`: each name is the client at its position.
        tuple_factories: dict[str, Node] = {}
        unpacks: list[tuple[Node, str]] = []
        functions: dict[str, tuple[Node, Node]] = {}  # the file's functions: parameters, definition

        def emit(node: Node, use: Use, kind: str, **extra: str) -> None:
            findings.append(self._finding(rel_path, src, node, use, kind, **extra))

        for _, caps in matches:
            if "import" in caps:
                node = caps["import"][0]
                module = self._capture_text(caps, "import.module", src)
                if module is None:
                    continue
                name = self._capture_text(caps, "import.name", src)
                alias = self._capture_text(caps, "import.alias", src)
                for local, qualified in spec.bind_import(module, name, alias):
                    if local == "*":
                        ctx.wildcards.append(qualified)
                    else:
                        aliases.setdefault(local, qualified)
                use = spec.classify_import(module, ctx)
                if use is not None and node.id not in emitted_imports:
                    emitted_imports.add(node.id)
                    if use.sdk not in ctx.imported_sdks:
                        ctx.imported_sdks.append(use.sdk)
                    emit(node, use, "import")
            elif "call" in caps:
                args = caps.get("call.args")
                callee = caps.get("call.callee")
                calls.append((caps["call"][0], callee[0] if callee else None, args[0] if args else None))
            elif "factory" in caps:
                factory_defs.append(
                    (text(caps["factory.name"][0], src), caps["factory.params"][0], caps["factory.call"][0],
                     caps.get("factory.callee", [None])[0], caps.get("factory.args", [None])[0])
                )  # fmt: skip
            elif "bind" in caps:
                binds.append((caps["bind.name"][0], caps["bind.value"][0]))
            elif "typed" in caps:
                typed.append((caps["typed.name"][0], caps["typed.type"][0]))
            elif "tuple" in caps:
                tuple_factories[text(caps["tuple.name"][0], src)] = caps["tuple.values"][0]
            elif "unpack" in caps:
                unpacks.append((caps["unpack.names"][0], text(caps["unpack.callee"][0], src)))
            elif "def" in caps:
                functions[text(caps["def.name"][0], src)] = (caps["def.params"][0], caps["def"][0])
            elif "string" in caps:
                strings.extend(caps["string"])
            elif "pair" in caps:
                pairs.append((caps["pair.key"][0], caps["pair.value"][0]))
            elif "envtarget" in caps:
                env_targets.extend(caps["envtarget"])

        resolved: dict[int, Call] = {}

        def resolve_call(node: Node, callee: Node | None, args: Node | None) -> Call:
            call = resolved.get(node.id)
            if call is None:
                call = self._call(node, callee, args, src, aliases)
                resolved[node.id] = call
            return call

        call_by_node = {node.id: (node, callee, args) for node, callee, args in calls}
        factory_names = {name for name, *_ in factory_defs}
        factories: dict[str, Factory] | None = None

        def imported(call: Call) -> Factory | None:
            """A factory another module defines, called by the name this file imported."""
            if not imported_factories or spec.imported_name is None:
                return None
            qualified = spec.imported_name(call.callee, rel_path, src)
            return imported_factories.get(qualified) if qualified else None

        def classify(call: Call) -> tuple[str, Use] | None:
            """The language's rules, then the file's one-hop client factories:
            `def client_for(service): return boto3.client(service)` makes
            `client_for("ssm")` an ssm client. The factories are resolved at their first
            call, once the bindings above it (`AWS = require("aws-sdk")`) are known."""
            nonlocal factories
            if factories is None and call.local in factory_names and not call.member:
                factories = self._factories(factory_defs, src, aliases, ctx)
            factory = factories.get(call.local or "") if factories and not call.member else None
            if factory is None:
                factory = imported(call)
                self.used_imported_factory |= factory is not None
            if factory is not None:
                index, use = factory
                if index < 0:
                    return "client", use
                args = call.args
                service = args[index] if index < len(args) else None
                if service and ctx.catalog.is_service(service):
                    return "client", Use(use.sdk, (service,))
                return "client", Use(use.sdk)
            return spec.classify_call(call, ctx)

        # Names bound once in the file, to a string (`BUCKET = "reports"`, `const TABLE =
        # "users"`) or to a request record (`params = {"TableName": "orders"}`): a call's
        # argument that names one is read as what it holds.
        bound_once: dict[str, list[Node]] = {}
        for name_node, value_node in binds:
            bound_once.setdefault(text(name_node, src), []).append(value_node)
        self._constants = {
            name: values[0]
            for name, values in bound_once.items()
            if len(values) == 1
            and values[0].type in spec.string_types
            and not _has_interpolation(values[0], spec.interpolation_types)
        }
        self._records = {
            name: values[0]
            for name, values in bound_once.items()
            if len(values) == 1 and values[0].type in _RECORD_TYPES
        }

        # Names declared with a client's type (parameters, struct and class fields), by the
        # type, not the name; a name declared with two services' types is left alone.
        declared: dict[str, set[str]] = {}
        for name_node, type_node in typed:
            written = text(type_node, src).lstrip("*&[]").split("<")[0].strip()
            head = _HEAD.match(written)
            if head and head.group(0) in aliases:
                written = aliases[head.group(0)] + written[head.end() :]
            use = spec.classify_type(written, ctx) if spec.classify_type else None
            if use is not None and len(use.services) == 1:
                declared.setdefault(text(name_node, src), set()).add(use.services[0])
                client_sdks.setdefault(text(name_node, src), use.sdk)
        fields = {name: services.pop() for name, services in declared.items() if len(services) == 1}
        clients.update(fields)
        # Parameters other modules pass a client in (kecs.scanner.engine's third pass): a
        # client within that function's body only.
        scopes: list[tuple[Node, dict[str, str]]] = []
        for function, positions in (passed_clients or {}).items():
            if function not in functions:
                continue
            params, definition = functions[function]
            names = [n for n in _parameter_names(params, src) if n not in ("self", "cls")]
            inside: dict[str, str] = {}
            for position, use in positions.items():
                if position < len(names) and len(use.services) == 1:
                    key = f"\x00{definition.id}:{names[position]}"
                    inside[names[position]] = key
                    clients[key], client_sdks[key] = use.services[0], use.sdk
            scopes.append((definition, inside))

        # Bindings in source order, so `s = Session(); c = s.client(...)` resolves.
        for name_node, value_node in sorted(binds, key=lambda b: b[0].start_byte):
            value = value_node
            while value.id not in call_by_node and value.named_child_count == 1:
                inner = value.named_children[0]  # await, parentheses
                assert inner is not None
                value = inner
            if value.id not in call_by_node:
                if text(value, src) in clients:  # a client handed on: `copy = s3`
                    clients[text(name_node, src)] = clients[text(value, src)]
                continue
            call = resolve_call(*call_by_node[value.id])
            found = classify(call) or self._built(call, ctx)
            qualified = call.callee + "()"
            loads = (found is not None and found[0] == "import") or (
                found is None and call.callee in spec.loaders
            )
            if loads and call.args and call.args[0]:
                qualified = call.args[0]  # x = require("m"): x is the module
            one_service = found is not None and found[0] == "client" and len(found[1].services) == 1
            sub_resource = _RESOURCE_OBJECT.fullmatch(call.member) if call.local in clients else None
            for local, target in spec.bind_names(name_node, src, qualified):
                aliases[local] = target
                if one_service:
                    assert found is not None
                    clients[local] = found[1].services[0]  # s3 = boto3.client("s3")
                    client_sdks[local] = found[1].sdk
                elif sub_resource is not None and call.local is not None:
                    # A resource object (`table = dynamodb.Table("orders")`): its actions are
                    # its service's operations, on what its identifier names.
                    clients[local] = clients[call.local]
                    parameter = _IDENTIFIERS.get(sub_resource.group(1))
                    if parameter and call.args and call.args[0]:
                        named[local] = f"{parameter}={call.args[0]}"
                else:
                    clients.pop(local, None)

        def chained(call: Call, callee_node: Node | None) -> Call:
            """A call made on a client built in the same expression
            (`boto3.client("s3").put_object(...)`, `new AWS.SQS().sendMessage(...)`): as
            if the client had a name."""
            if call.local in clients:
                return call
            for definition, inside in scopes:
                if (
                    call.local in inside
                    and definition.start_byte <= call.node.start_byte < definition.end_byte
                ):
                    return call.on(inside[call.local], call.member)
            path = _MEMBER_NAMES.findall(call.member)
            if len(path) >= 2 and path[-2] in fields:  # a client field: `s.db.GetItem`, `this.sqs.x`
                return call.on(path[-2], f".{path[-1]}")
            if callee_node is None or not callee_node.named_child_count:
                return call
            receiver = callee_node.named_children[0]
            while (
                receiver is not None and receiver.id not in call_by_node and receiver.named_child_count == 1
            ):
                receiver = receiver.named_children[0]  # parentheses: `(new AWS.SQS()).x(...)`
            method = _LAST_METHOD.search(call.callee)
            if receiver is None or receiver.id not in call_by_node or method is None:
                return call
            if method.group(1) in ("get_waiter", *_HELPERS):
                return call  # a waiter or paginator object: nothing is called until it is used
            inner = resolve_call(*call_by_node[receiver.id])
            found = classify(inner) or self._built(inner, ctx)
            if found is None or found[0] != "client" or len(found[1].services) != 1:
                return call
            key = f"\x00{receiver.id}"
            clients[key], client_sdks[key] = found[1].services[0], found[1].sdk
            return call.on(key, f".{method.group(1)}")

        for names_node, factory in unpacks:
            values = tuple_factories.get(factory)
            if values is None:
                continue
            for name_node, value in zip(names_node.named_children, values.named_children, strict=False):
                if value.id not in call_by_node or name_node.type not in _NAME_TYPES:
                    continue
                found = classify(resolve_call(*call_by_node[value.id]))
                if found is not None and found[0] == "client" and len(found[1].services) == 1:
                    clients[text(name_node, src)] = found[1].services[0]
                    client_sdks[text(name_node, src)] = found[1].sdk

        for call_node, callee_node, args_node in sorted(calls, key=lambda c: c[0].start_byte):
            call = chained(resolve_call(call_node, callee_node, args_node), callee_node)
            performed = self._operations(call, ctx, clients, named)
            sdk = client_sdks.get(call.local or "") or (ctx.imported_sdks[0] if ctx.imported_sdks else "")
            for service, name, resource in performed:
                emit(call_node, Use(sdk, (service,)), "call", operation=name, resource=resource)
            if performed:
                continue
            self._note_handoffs(call, rel_path, src, clients, client_sdks)
            found = classify(call)
            if found is None:
                continue
            kind, use = found
            if kind == "import" and use.sdk not in ctx.imported_sdks:
                ctx.imported_sdks.append(use.sdk)
            emit(call_node, use, kind)

        findings.extend(self._lint(rel_path, src, resolved.values(), strings, pairs, env_targets))
        if factory_defs:
            self.defined_factories = (
                factories if factories is not None else self._factories(factory_defs, src, aliases, ctx)
            )
        return findings

    # -- helpers -------------------------------------------------------------------

    def _note_handoffs(
        self, call: Call, rel_path: str, src: bytes, clients: Mapping[str, str], sdks: Mapping[str, str]
    ) -> None:
        """A client handed to an imported function (`archive(s3, "b")` where `archive`
        comes from another module): that function's parameter is the client."""
        if self.spec.imported_name is None or call.args_node is None or not clients:
            return
        positional = [
            c
            for c in call.args_node.named_children
            if c.type != "comment" and c.type != (self.spec.keyword_arg or ("",))[0]
        ]
        for position, argument in enumerate(positional):
            name = text(argument, src)
            if name in clients and not name.startswith("\x00"):
                qualified = self.spec.imported_name(call.callee, rel_path, src)
                if qualified and "." in qualified:
                    use = Use(sdks.get(name, ""), (clients[name],))
                    self.handoffs.append((qualified, position, use))

    def _built(self, call: Call, ctx: Context) -> tuple[str, Use] | None:
        """A builder chain (`S3Client.builder().region(r).build()`): the client is the class
        the chain starts from."""
        if not call.callee.endswith(").build"):
            return None
        return self.spec.classify_call(Call(call.node, call.callee.split("()", 1)[0], lambda: ([], {})), ctx)

    def _factories(
        self, defs: list[tuple[str, Node, Node, Node | None, Node | None]], src: bytes,
        aliases: dict[str, str], ctx: Context,
    ) -> dict[str, tuple[int, Use]]:  # fmt: skip
        """Functions that return a client: name -> (the position of the parameter that names
        its service, or -1 when the function always makes one service's client; the use)."""
        out: dict[str, tuple[int, Use]] = {}
        for name, params, call_node, callee, args in defs:
            call = self._call(call_node, callee, args, src, aliases)
            found = self.spec.classify_call(call, ctx) or self._built(call, ctx)
            if found is None or found[0] != "client":
                continue
            if found[1].services:
                out[name] = (-1, found[1])  # `def s3(): return boto3.client("s3")`
                continue
            if args is None:
                continue
            names = [
                text(p, src).split(":")[0].split("=")[0].strip()
                for p in params.named_children
                if p.type in ("identifier", "typed_parameter", "default_parameter", "typed_default_parameter")
            ]
            argument = self._service_argument(args, src)
            if argument in names:
                positional = [n for n in names if n not in ("self", "cls")]
                if argument in positional:
                    out[name] = (positional.index(argument), found[1])
        return out

    def _service_argument(self, args: Node, src: bytes) -> str | None:
        """The text of the first positional argument, or of a `service_name=` keyword."""
        keyword = self.spec.keyword_arg
        for child in args.named_children:
            if keyword and child.type == keyword[0]:
                key = child.child_by_field_name(keyword[1])
                value = child.child_by_field_name(keyword[2])
                if key is not None and value is not None and text(key, src) == "service_name":
                    return text(value, src)
            elif child.type != "comment":
                return text(child, src)
        return None

    def _record_resource(self, call: Call) -> str:
        """`Bucket=b,Key=k` from a request written as a record literal: a JS object, a Ruby
        hash, a PHP array (`new PutObjectCommand({ Bucket: "b" })`, `s3.putObject({ Bucket:
        "b" })`), a Go composite literal (`&s3.PutObjectInput{Bucket: aws.String("b")}`), or
        builder setters: a Java request lambda or builder among the arguments
        (`sqs.receiveMessage(r -> r.queueUrl("u"))`) and a Rust fluent builder after the call
        (`client.put_object().bucket("b").send()`)."""
        found: dict[str, str] = {}

        def take(key: Node | None, value: Node | None) -> None:
            if key is None or value is None:
                return
            written = strip_quotes((key.text or b"").decode("utf-8", "replace")).strip()
            name = _PARAMETER_SPELLINGS.get(written.rstrip(":").replace("_", "").lower(), "")
            held = (value.text or b"").decode("utf-8", "replace")
            if value.type in _NAME_TYPES and held in self._constants:
                value = self._constants[held]
            literal = self._literal_node(value)
            interpolated = literal is not None and _has_interpolation(literal, self.spec.interpolation_types)
            if name and literal is not None and name not in found and not interpolated:
                found[name] = strip_quotes((literal.text or b"").decode("utf-8", "replace"))

        nodes = list(_descendants(call.args_node, depth=8)) if call.args_node is not None else []
        for node in list(nodes):  # a request object built above: `get_item(**params)`, `put(params)`
            named = (node.text or b"").decode("utf-8", "replace")
            if node.type in _NAME_TYPES and named in self._records:
                nodes += _descendants(self._records[named], depth=8)
        for node in nodes:
            if node.type == "pair":
                take(node.child_by_field_name("key"), node.child_by_field_name("value"))
            elif node.type in ("keyed_element", "array_element_initializer") and node.named_child_count == 2:
                take(node.named_children[0], node.named_children[1])
            elif node.type == "method_invocation":  # Java: r.queueUrl("u"), builder().bucket("b")
                take(node.child_by_field_name("name"), _only_argument(node))
        # Rust: each `.setter("literal")` called on the call's result, up the chain.
        node = call.node
        while (
            node.parent is not None
            and node.parent.type == "field_expression"
            and node.parent.parent is not None
            and node.parent.parent.type == "call_expression"
        ):
            node = node.parent.parent
            function = node.child_by_field_name("function")
            take(
                function.child_by_field_name("field") if function is not None else None, _only_argument(node)
            )
        return ",".join(f"{k}={found[k]}" for k in RESOURCE_PARAMETERS if found.get(k))

    def _operations(
        self, call: Call, ctx: Context, clients: dict[str, str], named: dict[str, str]
    ) -> list[tuple[str, str, str]]:
        """(service, operation, resource) for each operation the call performs:
        `s3.put_object(Bucket="b")`, `client.PutObject(ctx, ...)`, `s3.putObject(...)`, a
        paginator's or waiter's (`s3.get_paginator("list_objects_v2")`,
        `ddb.get_waiter("table_exists")`), a resource object's (`table.put_item(...)` on
        `ddb.Table("orders")`), the language's helpers (`s3.upload_file` sends PutObject
        or a multipart upload), or what the language says names one without a client
        (`new PutObjectCommand(...)`)."""
        operations = ctx.operations()
        found: tuple[str, str] | None = None

        def resource() -> str:  # read only for a call that performs an operation
            return _resource(call) or self._record_resource(call) or named.get(call.local or "", "")

        if call.local in clients:
            method = _METHOD.fullmatch(call.member)
            if method is None:
                return []
            service, name = clients[call.local], method.group(1)
            helper = self.spec.helper_operations.get((service, name))
            if helper:
                return [(service, op, resource()) for op in helper]
            if name == "get_waiter" and call.args and call.args[0]:
                waited = operations.waiter(service, call.args[0])
                return [(service, waited, resource())] if waited else []
            found = (service, call.args[0] if name in _HELPERS and call.args and call.args[0] else name)
        elif self.spec.classify_operation is not None:
            found = self.spec.classify_operation(call, ctx)
        if found is None:
            return []
        service, spelled = found
        operation = operations.operation(service, spelled)
        return [(service, operation, resource())] if operation else []

    @staticmethod
    def _capture_text(caps: dict[str, list[Node]], name: str, src: bytes) -> str | None:
        nodes = caps.get(name)
        if not nodes:
            return None
        return strip_quotes(text(nodes[0], src))

    def _call(
        self,
        node: Node,
        callee: Node | None,
        args: Node | None,
        src: bytes,
        aliases: dict[str, str],
    ) -> Call:
        # Without a callee capture the callee is everything before the arguments
        # (Java `a.b().c(...)`, Ruby `Aws::S3::Client.new(...)`).
        if callee is not None:
            raw = text(callee, src)
        elif args is not None:
            raw = src[node.start_byte : args.start_byte].decode("utf-8", "replace")
        else:
            raw = text(node, src)
        name = elide_arguments(raw).lstrip("\\")
        head = _HEAD.match(name)
        local, member = (head.group(0), name[head.end() :]) if head else (None, "")
        if head and head.group(0) in aliases:
            name = aliases[head.group(0)] + name[head.end() :]

        def read_arguments() -> tuple[list[str | None], dict[str, str | None]]:
            positional: list[str | None] = []
            kwargs: dict[str, str | None] = {}
            keyword = self.spec.keyword_arg
            for child in args.named_children if args is not None else ():
                if keyword and child.type == keyword[0]:
                    key = child.child_by_field_name(keyword[1])
                    value = child.child_by_field_name(keyword[2])
                    if key is not None and value is not None:
                        kwargs[text(key, src)] = self.literal(value, src)
                elif child.type != "comment":
                    positional.append(self.literal(child, src))
            return positional, kwargs

        call = Call(node=node, callee=name, read_arguments=read_arguments, local=local, member=member)
        call.args_node = args
        return call

    def _finding(self, rel_path: str, src: bytes, node: Node, use: Use, kind: str, **extra: str) -> Finding:
        row, col = node.start_point
        line_start = node.start_byte - col
        column = len(src[line_start : node.start_byte].decode("utf-8", "replace")) + 1
        return Finding(
            path=rel_path,
            line=row + 1,
            column=column,
            language=self.spec.name,
            sdk=use.sdk,
            services=tuple(sorted(set(use.services))),
            kind=kind,
            # Only the head of the node: the evidence keeps 120 characters, and a call's
            # whole text holds every call nested in it (quadratic over deep nesting).
            evidence=evidence(
                src[node.start_byte : min(node.end_byte, node.start_byte + EVIDENCE_BYTES)].decode(
                    "utf-8", "replace"
                )
            ),
            **extra,
        )

    def _lint(
        self,
        rel_path: str,
        src: bytes,
        calls: Iterable[Call],
        strings: list[Node],
        pairs: list[tuple[Node, Node]],
        env_targets: list[Node],
    ) -> Iterator[Finding]:
        sdk = ""
        seen: set[tuple[int, str]] = set()

        def make(node: Node, rule: str, message: str) -> Finding | None:
            key = (node.start_byte, rule)
            if key in seen:
                return None
            seen.add(key)
            return self._finding(rel_path, src, node, Use(sdk), "lint", rule=rule, message=message)

        pair_values: set[int] = set()
        for key_node, value_node in pairs:
            key = strip_quotes(text(key_node, src)).lstrip(":")
            literal_node = self._literal_node(value_node)
            value = self.literal(literal_node, src) if literal_node is not None else None
            if literal_node is None or value is None:
                continue
            hit = lint.check_pair(key, value)
            if hit is not None:
                pair_values.add(literal_node.start_byte)
                found = make(literal_node, *hit)
                if found:
                    yield found
        for node in strings:
            if node.start_byte in pair_values:
                continue
            value = strip_quotes(text(node, src))
            hit = lint.check_string(value)
            if hit is not None:
                found = make(node, *hit)
                if found:
                    yield found
        for call in calls:
            hit = lint.check_call(call.callee, call.read_args)
            if hit is not None:
                found = make(call.node, *hit)
                if found:
                    yield found
        for node in env_targets:
            hit = lint.check_env_target(elide_arguments(text(node, src)))
            if hit is not None:
                found = make(node, *hit)
                if found:
                    yield found


def _only_argument(call: Node) -> Node | None:
    """The one argument of a setter call (`.bucket("b")`), else None."""
    arguments = call.child_by_field_name("arguments")
    if arguments is None or arguments.named_child_count != 1:
        return None
    return arguments.named_children[0]


def _descendants(node: Node, depth: int) -> Iterator[Node]:
    if depth == 0:
        return
    for child in node.named_children:
        yield child
        yield from _descendants(child, depth - 1)


EVIDENCE_BYTES = 4096  # enough source for 120 characters of evidence, whatever the whitespace


def evidence(source: str, limit: int = 120) -> str:
    one_line = " ".join(source.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
