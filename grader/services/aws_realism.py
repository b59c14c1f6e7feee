"""The WSGI filter in front of the embedded moto server: AWS's answers where moto's differ.

Written here because no library does it. Every request to the embedded endpoint passes through
`Realism`, whichever listener it came in on, and is named by its operation ("dynamodb", "PutItem"),
from the X-Amz-Target header, the Action of a query-protocol form, or the REST route in botocore's
service model. Then:

- requests the grader's own clients make carry the header `X-Grader-Client` with a secret of the
  run; every other request is the learner's. Only the learner's requests are counted and only they
  meet the switched-on behaviours below, so a hidden test sets up and inspects state as it is;
- always: DynamoDB refuses a BatchWriteItem of more than 25 requests (moto accepts any number), and
  EC2 answers DeleteNetworkAclEntry / ReplaceNetworkAclEntry on a missing entry with
  InvalidNetworkAclEntry.NotFound (moto 5.2 crashes with an HTML 500 page);
- always: a paginated read (DynamoDB Query, Scan and ListTables; S3 ListObjects and ListObjectsV2) that
  the learner sends REPEAT_LIMIT times in a row, byte for byte the same, with no other request between,
  is refused from then on with a 400 RepeatedRequest that says how to go on to the next page. The
  same request gets the same page: a loop that never passes the page's token on never ends, and
  would otherwise run until the call's time limit (10 s) with no word of why. The learner's call
  raises a ClientError at their own line instead, within seconds;
- always: an answer of moto that no AWS SDK could parse (a 5xx, an HTML error page, a body that is
  not the protocol's JSON or XML) is recorded as a failure of the mock, for the plugin to report as
  a grader error instead of the learner's failure (`take_failures`);
- switched on by a hidden test, until the next reset: tables and streams created in CREATING (ACTIVE
  once the learner describes them, which is what every waiter does; data operations before that
  fail as on AWS), UnprocessedItems from a first BatchWriteItem, small Query and Scan pages, SQS
  receives of fewer messages than asked, reserved words refused in every DynamoDB expression
  (moto refuses them in some), and a lagging Kinesis reader (the first GetRecords of each shard an
  empty page with MillisBehindLatest > 0).

Choices are drawn from a generator seeded at every reset: the same submission meets the same
answers every run.
"""
from __future__ import annotations

import binascii
import io
import json
import random
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from xml.etree import ElementTree
from xml.sax.saxutils import escape

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reply = tuple[str, list[tuple[str, str]], bytes]  # status line, headers, body

GRADER_HEADER = "X-Grader-Client"
BATCH_WRITE_LIMIT = 25
ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_PAGE_SIZE = 3
DYNAMODB_JSON = "application/x-amz-json-1.0"
KINESIS_JSON = "application/x-amz-json-1.1"
_SNIPPET = 120
REPEAT_LIMIT = 20  # the same paginated read this many times in a row: refused (a loop that never ends).
# An S3 page of 1,000 keys costs moto about 0.1 s: 20 of them end well within a call's 10 s.

# paginated reads, and how a loop goes on from one page to the next
_NEXT_PAGE = {
    ("dynamodb", "Query"): "pass the page's LastEvaluatedKey as ExclusiveStartKey, and stop at a page without one",
    ("dynamodb", "Scan"): "pass the page's LastEvaluatedKey as ExclusiveStartKey, and stop at a page without one",
    ("dynamodb", "ListTables"): ("pass the page's LastEvaluatedTableName as ExclusiveStartTableName, and stop at a "
                                 "page without one"),
    ("s3", "ListObjectsV2"): ("pass the page's NextContinuationToken as ContinuationToken, and stop when IsTruncated "
                              "is false"),
    ("s3", "ListObjects"): "pass the page's NextMarker as Marker, and stop when IsTruncated is false",
}

# DynamoDB operations that read or write a table's items: refused while the table is CREATING
_DATA_OPERATIONS = frozenset({
    "PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem",
    "BatchGetItem", "TransactWriteItems", "TransactGetItems",
})
# words of the expression grammar itself, by expression, which are reserved words as attribute names
_SYNTAX = {
    "UpdateExpression": frozenset({"SET", "REMOVE", "ADD", "DELETE"}),
    "ProjectionExpression": frozenset(),
}
_CONDITION_SYNTAX = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
_TOKEN = re.compile(r"[#:][A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*(?=\s*(\()?)")


@dataclass
class Request:
    """One request to the endpoint as the filter sees it."""

    service: str  # the signing name: dynamodb, s3, sqs, kinesis, ec2, ...
    operation: str  # PutItem, HeadObject, ... ("" when it could not be named)
    target: str  # the X-Amz-Target header of a JSON-protocol request
    learner: bool
    region: str
    params: dict[str, Any] | None = None  # the decoded body of a JSON or query-protocol request
    protocol: str = "rest"  # json, query or rest
    body: bytes = b""  # the body of a JSON or query-protocol request, as sent
    cut_short: bool = False  # the client went away before the whole body came (a learner process killed mid-send)

    @property
    def name(self) -> str:
        return f"{self.service} {self.operation or '(an unnamed request)'}"


@dataclass
class Switches:
    """The behaviours a hidden test switched on, and their state since the last reset."""

    creating: bool = False
    unprocessed: bool = False
    page_size: int = 0
    short_receives: bool = False
    reserved_words: bool = False
    kinesis_lag_ms: int = 0
    batch_writes_seen: int = 0
    lagged_shards: set[tuple[str, str]] = field(default_factory=set)
    # (operations, act): act() runs once, right after the learner's first answered request of one of them
    after_read: tuple[frozenset[str], Callable[[], None]] | None = None
    raced: bool = False  # after_read's act has run


class Realism:
    """WSGI filter over moto: see the module docstring."""

    def __init__(self, app: WsgiApp, grader_key: str, seed: int) -> None:
        self.app = app
        self.grader_key = grader_key
        self.seed = seed
        self._lock = threading.Lock()
        self.switches = Switches()
        self.random = random.Random(seed)
        self.calls: dict[str, int] = {}  # the learner's requests since the last reset, by operation
        self.creating: dict[tuple[str, str], bool] = {}  # (service, name) -> refused while creating
        self.long_polls: dict[int, int] = {}  # id -> WaitTimeSeconds of the learner's receives in flight
        self.failures: list[str] = []  # answers of the mock no SDK could parse, until taken
        self._last: tuple[Any, ...] | None = None  # the learner's last paginated read, and how often in a row
        self._repeats = 0
        self.used = True  # a request reached moto since the last reset (a new server may hold old state)
        self._routes: dict[str, list[_Route]] = {}
        self._handlers: dict[tuple[str, str], Callable[[dict[str, Any], Request], Reply]] = {
            ("dynamodb", "BatchWriteItem"): self._batch_write,
            ("dynamodb", "CreateTable"): self._create_table,
            ("dynamodb", "DescribeTable"): self._describe_table,
            ("dynamodb", "Query"): self._page,
            ("dynamodb", "Scan"): self._page,
            ("kinesis", "CreateStream"): self._create_stream,
            ("kinesis", "DescribeStream"): self._describe_stream,
            ("kinesis", "DescribeStreamSummary"): self._describe_stream,
            ("kinesis", "GetRecords"): self._get_records,
            ("sqs", "ReceiveMessage"): self._receive,
            ("ec2", "DeleteNetworkAclEntry"): self._network_acl_entry,
            ("ec2", "ReplaceNetworkAclEntry"): self._network_acl_entry,
        }

    # -- state ------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every switch, count and pending resource; reseed the generator."""
        with self._lock:
            self.switches = Switches()
            self.random = random.Random(self.seed)
            self.calls.clear()
            self.creating.clear()
            self.long_polls.clear()
            self._last, self._repeats = None, 0

    def take_failures(self) -> list[str]:
        """The failures of the mock recorded since the last call, oldest first."""
        with self._lock:
            taken, self.failures = self.failures, []
        return taken

    # -- the WSGI entry point ---------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.used = True
        if environ.get("PATH_INFO", "").startswith("/moto-api/"):
            return self.app(environ, start_response)
        request = self._request(environ)
        if request.cut_short:  # half a request, from no one still listening: not for moto, nor a failure of it
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"the request ended before its body did"]
        if request.learner and request.operation:
            with self._lock:
                for key in {f"{request.service}.{request.operation}", request.target} - {""}:
                    self.calls[key] = self.calls.get(key, 0) + 1
        handler = self._handlers.get((request.service, request.operation))
        try:
            reply = (self._repeated(environ, request) or self._refusal(request)
                     or (handler(environ, request) if handler else self._forward(environ)))
        except Exception as exc:  # moto raised instead of answering
            reply = ("500 Internal Server Error", [("Content-Type", "text/plain")],
                     f"{type(exc).__name__}: {exc}".encode())
        self._check(request, environ.get("REQUEST_METHOD", ""), reply)
        if request.learner and self.switches.after_read is not None and reply[0].startswith("200"):
            self._after_read(request)
        status, headers, body = reply
        start_response(status, headers)
        return [body]

    def _after_read(self, request: Request) -> None:
        with self._lock:
            armed = self.switches.after_read
            if armed is None or not {f"{request.service}.{request.operation}", request.target} & armed[0]:
                return
            self.switches.after_read, self.switches.raced = None, True
        try:
            armed[1]()  # another client's write, between the learner's read and whatever it does next
        except Exception as exc:  # the grader's own write failed: never the learner's fault
            with self._lock:
                self.failures.append(f"{request.name}: the write racing it failed ({type(exc).__name__}: {exc})")

    # -- reading requests -------------------------------------------------------------------------

    def _request(self, environ: dict[str, Any]) -> Request:
        learner = environ.get("HTTP_" + GRADER_HEADER.upper().replace("-", "_")) != self.grader_key
        service, region = _scope(environ.get("HTTP_AUTHORIZATION", "") or environ.get("QUERY_STRING", ""))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        body, whole = _body(environ)
        if not whole:
            return Request(service, "", target, learner, region, cut_short=True)
        if target:
            prefix, _, operation = target.rpartition(".")
            return Request(service or _service_of_target(prefix), operation, target, learner, region,
                           _json_object(body), "json", body)
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            if "Action" in form:
                return Request(service, form["Action"], "", learner, region, form, "query", body)
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if "Action" in query:
            return Request(service, query["Action"], "", learner, region, query, "query")
        return Request(service, self._rest_operation(service, environ, query), "", learner, region)

    def _rest_operation(self, service: str, environ: dict[str, Any], query: dict[str, str]) -> str:
        if not service:
            return ""
        with self._lock:
            routes = self._routes.get(service)
            if routes is None:
                routes = self._routes[service] = _routes_of(service)
        method = environ.get("REQUEST_METHOD", "")
        path = urllib.parse.unquote(environ.get("PATH_INFO", "") or "/")
        bucket = _virtual_host_bucket(environ.get("HTTP_HOST", "")) if service == "s3" else ""
        if bucket:
            path = f"/{bucket}{path}"
        headers = {k[5:].replace("_", "-").lower() for k in environ if k.startswith("HTTP_")}
        best = max((r for r in routes if r.matches(method, path, query, headers)), key=lambda r: r.weight,
                   default=None)
        return best.operation if best else ""

    # -- answering --------------------------------------------------------------------------------

    def _forward(self, environ: dict[str, Any], params: dict[str, Any] | None = None) -> Reply:
        """moto's answer, with the JSON body replaced by `params` when given."""
        if params is not None:
            data = json.dumps(params).encode()
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        captured: list[Any] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, list(headers)]
            return lambda data: None

        chunks = self.app(environ, start)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured[0], captured[1], body

    def _repeated(self, environ: dict[str, Any], request: Request) -> Reply | None:
        """The refusal of the learner's paginated read sent REPEAT_LIMIT times in a row, the same."""
        advice = _NEXT_PAGE.get((request.service, request.operation)) if request.learner else None
        key = None
        if advice is not None:
            key = (request.service, request.operation, environ.get("REQUEST_METHOD", ""), environ.get("HTTP_HOST", ""),
                   environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), request.body)
        with self._lock:
            self._repeats = self._repeats + 1 if key is not None and key == self._last else 1
            self._last = key
            repeats = self._repeats
        if advice is None or repeats < REPEAT_LIMIT:
            return None
        message = (f"the grader stopped a loop: the same {request.operation} request came {repeats} times in a "
                   f"row and got the same page each time, so the loop would never end. To go on to the next page, "
                   f"{advice}.")
        if request.service == "s3":
            return _s3_error("RepeatedRequest", message)
        return _dynamodb_error("RepeatedRequest", message)

    def _refusal(self, request: Request) -> Reply | None:
        """An error DynamoDB or Kinesis would answer before doing anything, for the learner only."""
        if not request.learner or request.params is None:
            return None
        if request.service == "dynamodb":
            if self.switches.reserved_words:
                word = _reserved_word(request.params)
                if word:
                    kind, name = word
                    return _dynamodb_error("ValidationException", f"Invalid {kind}: Attribute name is a reserved "
                                           f"keyword; reserved keyword: {name}")
            if request.operation in _DATA_OPERATIONS:
                table = next((t for t in _tables_of(request.params) if ("dynamodb", t) in self.creating), None)
                if table is not None:
                    with self._lock:
                        self.creating[("dynamodb", table)] = True
                    return _dynamodb_error("ResourceNotFoundException", "Requested resource not found")
        if request.service == "kinesis" and request.operation in {"PutRecord", "PutRecords", "GetShardIterator",
                                                                   "ListShards"}:
            stream = _stream_of(request.params)
            if ("kinesis", stream) in self.creating:
                with self._lock:
                    self.creating[("kinesis", stream)] = True
                if request.operation == "ListShards":
                    return _json_error(KINESIS_JSON, "ResourceInUseException",
                                       f"Stream {stream} under account {ACCOUNT_ID} is in CREATING state, not ACTIVE.")
                return _json_error(KINESIS_JSON, "ResourceNotFoundException",
                                   f"Stream {stream} under account {ACCOUNT_ID} not found.")
        return None

    def _batch_write(self, environ: dict[str, Any], request: Request) -> Reply:
        requests = (request.params or {}).get("RequestItems")
        if not isinstance(requests, dict):
            return self._forward(environ)
        count = sum(len(v) for v in requests.values() if isinstance(v, list))
        if count > BATCH_WRITE_LIMIT:
            return _dynamodb_error("ValidationException", (
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
                f"Map value must satisfy constraint: [Member must have length less than or equal to "
                f"{BATCH_WRITE_LIMIT}, Member must have length greater than or equal to 1] ({count} requests sent)"))
        if not (request.learner and self.switches.unprocessed) or count == 0:
            return self._forward(environ)
        with self._lock:
            self.switches.batch_writes_seen += 1
            first = self.switches.batch_writes_seen == 1
            flat = [(table, item) for table, items in requests.items() for item in items]
            held = set(self.random.sample(range(len(flat)), max(1, len(flat) // 3))) if first else set()
        if not held:
            return self._forward(environ)
        sent: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        for n, (table, item) in enumerate(flat):
            (unprocessed if n in held else sent).setdefault(table, []).append(item)
        if sent:
            status, headers, body = self._forward(environ, {**request.params, "RequestItems": sent})
            if not status.startswith("200"):
                return status, headers, body
            answer = json.loads(body)
        else:
            answer, headers = {}, [("Content-Type", DYNAMODB_JSON)]
        for table, items in unprocessed.items():
            answer.setdefault("UnprocessedItems", {}).setdefault(table, []).extend(items)
        return _rewritten(("200 OK", headers, b""), answer)

    def _create_table(self, environ: dict[str, Any], request: Request) -> Reply:
        reply = self._forward(environ)
        if not (request.learner and self.switches.creating and reply[0].startswith("200")):
            return reply
        answer = json.loads(reply[2])
        description = answer.get("TableDescription", {})
        with self._lock:
            self.creating[("dynamodb", description.get("TableName", ""))] = False
        description["TableStatus"] = "CREATING"
        return _rewritten(reply, answer)

    def _describe_table(self, environ: dict[str, Any], request: Request) -> Reply:
        if request.learner:
            with self._lock:
                self.creating.pop(("dynamodb", str((request.params or {}).get("TableName", ""))), None)
        return self._forward(environ)

    def _page(self, environ: dict[str, Any], request: Request) -> Reply:
        size = self.switches.page_size
        if not (request.learner and size and request.params is not None):
            return self._forward(environ)
        limit = request.params.get("Limit")
        small = min(limit, size) if isinstance(limit, int) and limit > 0 else size
        return self._forward(environ, {**request.params, "Limit": small})

    def _create_stream(self, environ: dict[str, Any], request: Request) -> Reply:
        reply = self._forward(environ)
        if request.learner and self.switches.creating and reply[0].startswith("200"):
            with self._lock:
                self.creating[("kinesis", _stream_of(request.params or {}))] = False
        return reply

    def _describe_stream(self, environ: dict[str, Any], request: Request) -> Reply:
        if request.learner:
            with self._lock:
                self.creating.pop(("kinesis", _stream_of(request.params or {})), None)
        return self._forward(environ)

    def _get_records(self, environ: dict[str, Any], request: Request) -> Reply:
        iterator = (request.params or {}).get("ShardIterator")
        lag = self.switches.kinesis_lag_ms
        shard = _shard_of(iterator) if request.learner and lag and isinstance(iterator, str) else None
        with self._lock:
            first = shard is not None and shard not in self.switches.lagged_shards
            if first:
                self.switches.lagged_shards.add(shard)  # type: ignore[arg-type]
        if not first:
            return self._forward(environ)
        page = {"Records": [], "NextShardIterator": iterator, "MillisBehindLatest": lag}
        return _json_reply("200 OK", KINESIS_JSON, page)

    def _receive(self, environ: dict[str, Any], request: Request) -> Reply:
        params = request.params or {}
        if not request.learner:
            return self._forward(environ)
        wait = params.get("WaitTimeSeconds")
        asked = params.get("MaxNumberOfMessages")
        if self.switches.short_receives and isinstance(asked, int) and asked > 1:
            with self._lock:
                params = {**params, "MaxNumberOfMessages": self.random.randint(1, asked - 1)}
        token = id(environ)
        if isinstance(wait, int) and wait > 0:
            with self._lock:
                self.long_polls[token] = wait
        try:
            return self._forward(environ, params if params is not request.params else None)
        finally:
            with self._lock:
                self.long_polls.pop(token, None)

    def _network_acl_entry(self, environ: dict[str, Any], request: Request) -> Reply:
        """EC2's documented answer for an entry that does not exist (moto crashes instead)."""
        params = request.params or {}
        from moto.ec2.models import ec2_backends

        try:
            acl = ec2_backends[ACCOUNT_ID][request.region or "us-east-1"].get_network_acl(params.get("NetworkAclId"))
            rule, egress = int(params.get("RuleNumber", "")), str(params.get("Egress", "false")).lower() == "true"
        except Exception:  # no such ACL, or a malformed request: moto's own answer
            return self._forward(environ)
        if any(int(e.rule_number) == rule and str(e.egress).lower() == str(egress).lower()
               for e in acl.network_acl_entries):
            return self._forward(environ)
        direction = "egress" if egress else "ingress"
        return _ec2_error("InvalidNetworkAclEntry.NotFound",
                          f"The network ACL entry identified by {rule} ({direction}) does not exist in "
                          f"{params.get('NetworkAclId')}.")

    # -- failures of the mock ---------------------------------------------------------------------

    def _check(self, request: Request, method: str, reply: Reply) -> None:
        status, headers, body = reply
        code = int(status.split()[0])
        problem = ""
        if code >= 500:
            problem = f"answered HTTP {code}"
        elif method != "HEAD" and body and (code >= 400 or request.protocol != "rest") and not _parses(body, request):
            problem = f"answered HTTP {code} with a body no AWS SDK can read"
        if not problem:
            return
        text = " ".join(body.decode("utf-8", "replace").split())
        title = re.search(r"<title>(.*?)</title>", text, re.I)
        shown = title.group(1) if title else text[:_SNIPPET]
        with self._lock:
            self.failures.append(f"{request.name} {problem}" + (f" ({shown})" if shown else ""))


@dataclass(frozen=True)
class _Route:
    """One REST operation of a service model: method, path pattern, required query keys and headers."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]
    headers: tuple[str, ...]
    weight: int

    def matches(self, method: str, path: str, query: dict[str, str], headers: set[str]) -> bool:
        return (method == self.method and self.pattern.fullmatch(path) is not None
                and all(k in query and (v is None or query[k] == v) for k, v in self.query)
                and all(h in headers for h in self.headers))


def _routes_of(service: str) -> list[_Route]:
    """The REST routes of a service, from botocore's model (empty for other protocols)."""
    import botocore.session

    session = botocore.session.get_session()
    name = {"s3": "s3"}.get(service, service)
    try:
        model = session.get_service_model(name)
    except Exception:
        return []
    if model.protocol not in ("rest-xml", "rest-json"):
        return []
    routes = []
    for operation in model.operation_names:
        op = model.operation_model(operation)
        uri, _, literal = op.http.get("requestUri", "/").partition("?")
        pattern = "".join(
            "(.+)" if part.endswith("+}") else "([^/]+)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", uri)
        )
        query: list[tuple[str, str | None]] = []
        for item in filter(None, literal.split("&")):
            key, eq, value = item.partition("=")
            query.append((key, value if eq else None))
        headers = []
        shape = op.input_shape
        for member in (shape.required_members if shape is not None else []):
            location = shape.members[member].serialization
            if location.get("location") == "querystring":
                query.append((location.get("name", member), None))
            elif location.get("location") == "header":
                headers.append(location.get("name", member).lower())
        literal_chars = len(re.sub(r"\{[^}]+\}", "", uri))
        routes.append(_Route(operation, op.http.get("method", "GET"), re.compile(pattern), tuple(query),
                             tuple(headers), literal_chars + 100 * (len(query) + len(headers))))
    return routes


def _virtual_host_bucket(host: str) -> str:
    """The bucket of a virtual-hosted S3 request (`bucket.localhost:1234`), else ''."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else ""
    first, dot, rest = name.partition(".")
    if not dot or re.fullmatch(r"[0-9.]+", name) or first == "s3" or rest.startswith("s3"):
        return ""
    return first if rest == "localhost" or re.fullmatch(r"[0-9.]+", rest) else ""


def _scope(authorization: str) -> tuple[str, str]:
    """(service, region) of a SigV4 Authorization header or presigned query; ('', '') when there is none."""
    match = re.search(r"Credential=[^/]+(?:/|%2F)[0-9]+(?:/|%2F)([^/%]+)(?:/|%2F)([^/%]+)(?:/|%2F)aws4_request",
                      authorization)
    return (match.group(2), match.group(1)) if match else ("", "")


def _service_of_target(prefix: str) -> str:
    known = {"DynamoDB": "dynamodb", "Kinesis": "kinesis", "AmazonSQS": "sqs"}
    return next((s for p, s in known.items() if prefix.startswith(p)), prefix.lower())


def _body(environ: dict[str, Any]) -> tuple[bytes, bool]:
    """The request body, read once and put back for moto; and whether all of it came (Content-Length).
    A body without a Content-Length (chunked) is left for moto to read."""
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if size <= 0:
        return b"", True
    body = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(body)
    return body, len(body) == size


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parses(body: bytes, request: Request) -> bool:
    """Whether an SDK can read this answer: JSON for the JSON protocol, XML otherwise."""
    text = body.lstrip()
    if request.protocol == "json" or text.startswith(b"{"):
        return _json_object(body) is not None
    try:
        ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return False
    return True


def _tables_of(params: dict[str, Any]) -> list[str]:
    """Every table a DynamoDB data request names."""
    tables = [params["TableName"]] if isinstance(params.get("TableName"), str) else []
    if isinstance(params.get("RequestItems"), dict):
        tables.extend(params["RequestItems"])
    for item in params.get("TransactItems") or []:
        if isinstance(item, dict):
            tables.extend(v["TableName"] for v in item.values() if isinstance(v, dict) and "TableName" in v)
    return tables


def _stream_of(params: dict[str, Any]) -> str:
    name = params.get("StreamName")
    if isinstance(name, str):
        return name
    arn = params.get("StreamARN")
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) else ""


def _shard_of(iterator: str) -> tuple[str, str] | None:
    from moto.kinesis.utils import decompose_shard_iterator

    try:
        stream, shard, _ = decompose_shard_iterator(iterator)
    except Exception:  # not one of moto's iterators: let moto answer with its own error
        return None
    return stream, shard


_RESERVED: frozenset[str] | None = None


def reserved_words() -> frozenset[str]:
    """DynamoDB's documented reserved words (the list moto ships), upper case."""
    global _RESERVED
    if _RESERVED is None:
        from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

        _RESERVED = frozenset(w.upper() for w in ReservedKeywords.get_reserved_keywords())
    return _RESERVED


def _expressions(value: Any) -> Iterable[tuple[str, str]]:
    """(kind, text) of every expression in a DynamoDB request, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Expression") and isinstance(item, str):
                yield key, item
            else:
                yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _reserved_word(params: dict[str, Any]) -> tuple[str, str] | None:
    """(expression kind, word) of the first reserved word used as an attribute name, if any."""
    reserved = reserved_words()
    for kind, text in _expressions(params):
        syntax = _SYNTAX.get(kind, _CONDITION_SYNTAX)
        for match in _TOKEN.finditer(text):
            token = match.group(0)
            if token[0] in "#:" or match.group(1) or token.upper() in syntax:
                continue  # a placeholder, a function name, or a word of the grammar
            if token.upper() in reserved:
                return kind, token
    return None


def _rewritten(reply: Reply, answer: dict[str, Any]) -> Reply:
    """`reply` with a new JSON body: Content-Length and DynamoDB's CRC32 header follow it."""
    status, headers, _ = reply
    body = json.dumps(answer).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-amz-crc32")]
    if not any(k.lower() == "content-type" for k, _ in kept):
        kept.append(("Content-Type", DYNAMODB_JSON))
    kept.append(("Content-Length", str(len(body))))
    if any(k.lower() == "x-amz-crc32" for k, _ in headers):
        kept.append(("x-amz-crc32", str(binascii.crc32(body) & 0xFFFFFFFF)))
    return status, kept, body


def _json_reply(status: str, content_type: str, answer: dict[str, Any]) -> Reply:
    body = json.dumps(answer).encode()
    return status, [("Content-Type", content_type), ("Content-Length", str(len(body)))], body


def _json_error(content_type: str, code: str, message: str) -> Reply:
    return _json_reply("400 Bad Request", content_type, {"__type": code, "message": message})


def _dynamodb_error(code: str, message: str) -> Reply:
    prefix = "com.amazon.coral.validate#" if code == "ValidationException" else "com.amazonaws.dynamodb.v20120810#"
    return _json_error(DYNAMODB_JSON, prefix + code, message)


def _s3_error(code: str, message: str) -> Reply:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code><Message>{escape(message)}'
            f"</Message><RequestId>{binascii.crc32(message.encode()):08x}-grader</RequestId></Error>").encode()
    return "400 Bad Request", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body


def _ec2_error(code: str, message: str) -> Reply:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{binascii.crc32(message.encode()):08x}-grader</RequestID></Response>").encode()
    return "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body
