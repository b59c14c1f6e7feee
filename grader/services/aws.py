"""The aws service: an embedded moto server on loopback, or an external AWS-compatible endpoint.

The embedded server is moto's WSGI application served by werkzeug in a thread of the grader's
process (what moto's ThreadedMotoServer does), with three differences: a free port, no request
log, and a stop() that also closes the listening socket. moto and werkzeug are imported only in
start(), so an exercise that does not list "aws" never pays for them.

The small WSGI filter `_Realism` is written here because no library does it: it adds to moto two
behaviours of real AWS that learners must cope with. DynamoDB refuses a BatchWriteItem of more than
25 requests (moto accepts any number), and Kinesis may answer GetRecords with an empty page while
the reader is still behind (moto never does; armed on demand by a hidden test).

Learner code never gets moto's admin API (/moto-api/...: reset, state dumps, the recorder): the
`_AdminGuard` filter answers it only to requests that carry this process's secret token, which
only the grader's own calls send. Learner code in a namespace sandbox has no network; it reaches
the endpoint through `worker_channels()`: a Unix socket (the same WSGI application served by a
second listener, or a relay to an external endpoint) that the sandbox binds in.
"""
from __future__ import annotations

import hmac
import io
import json
import os
import secrets
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from grader.errors import ServiceError
from grader.services import ServiceOptions

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
ENDPOINT_ENV = "GRADER_AWS_ENDPOINT"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_START_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05  # how often serve_forever looks for shutdown(); bounds the time stop() takes

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class UnsupportedOnBackend(ServiceError):
    """The backend cannot do what a hidden test asked (e.g. simulate Kinesis lag on an external endpoint)."""


BATCH_WRITE_LIMIT = 25
ID_SEED = 2005  # seeds moto's id generator at every reset


def _json_response(start_response: Callable[..., Any], status: str, content_type: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class _AdminGuard:
    """moto's admin API answers only requests that carry the grader's token (learner code has none)."""

    HEADER = "X-Grader-Admin"

    def __init__(self, app: WsgiApp, token: str) -> None:
        self.app = app
        self.token = token

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", "")).lower()
        host = str(environ.get("HTTP_HOST", "")).lower()
        if "moto-api" in path or host.startswith("motoapi"):
            given = str(environ.get("HTTP_X_GRADER_ADMIN", ""))
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                body = {"__type": "AccessDeniedException",
                        "message": "moto's admin API (/moto-api/...) is reserved for the grader"}
                return _json_response(start_response, "403 Forbidden", "application/json", body)
        return self.app(environ, start_response)


class _Realism:
    """WSGI filter over moto: DynamoDB's batch limit always; when armed, a lagging Kinesis reader."""

    GET_RECORDS = "Kinesis_20131202.GetRecords"
    BATCH_WRITE = "DynamoDB_20120810.BatchWriteItem"

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.armed = False
        self.lag_ms = 5000
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}  # JSON-protocol operations seen since the last reset, by X-Amz-Target

    def arm(self, lag_ms: int) -> None:
        """Start lagging: every shard read from now on first answers with one empty page."""
        with self._lock:
            self.armed, self.lag_ms = True, lag_ms
            self._seen.clear()

    def disarm(self) -> None:
        """Stop lagging."""
        with self._lock:
            self.armed = False
            self._seen.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            with self._lock:
                self.calls[target] = self.calls.get(target, 0) + 1
        if target == self.BATCH_WRITE:
            return self._batch_write(environ, start_response)
        if target == self.GET_RECORDS and self.armed:
            return self._get_records(environ, start_response)
        return self.app(environ, start_response)

    @staticmethod
    def _body(environ: dict[str, Any]) -> bytes:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size)
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def _batch_write(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            requests = json.loads(self._body(environ)).get("RequestItems") or {}
            count = sum(len(v) for v in requests.values())
        except (ValueError, AttributeError, TypeError):
            return self.app(environ, start_response)
        if count <= BATCH_WRITE_LIMIT:
            return self.app(environ, start_response)
        message = (
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
            f"Map value must satisfy constraint: [Member must have length less than or equal to "
            f"{BATCH_WRITE_LIMIT}, Member must have length greater than or equal to 1] ({count} requests sent)"
        )
        return _json_response(
            start_response,
            "400 Bad Request",
            "application/x-amz-json-1.0",
            {"__type": "com.amazon.coral.validate#ValidationException", "message": message},
        )

    def _get_records(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        iterator = self._iterator(self._body(environ))
        shard = self._shard_of(iterator) if iterator else None
        with self._lock:
            first = shard is not None and shard not in self._seen
            if first:
                self._seen.add(shard)  # type: ignore[arg-type]
        if not first:
            return self.app(environ, start_response)
        page = {"Records": [], "NextShardIterator": iterator, "MillisBehindLatest": self.lag_ms}
        return _json_response(start_response, "200 OK", "application/x-amz-json-1.1", page)

    @staticmethod
    def _iterator(body: bytes) -> str | None:
        try:
            value = json.loads(body).get("ShardIterator")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    @staticmethod
    def _shard_of(iterator: str) -> tuple[str, str] | None:
        from moto.kinesis.utils import decompose_shard_iterator

        try:
            stream, shard, _ = decompose_shard_iterator(iterator)
        except Exception:  # not one of moto's iterators: let moto answer with its own error
            return None
        return stream, shard


class AwsService:
    """An AWS-compatible endpoint for one grading process, with clients bound to it."""

    name = "aws"
    region = REGION

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.backend = "external" if endpoint_url else "moto"
        self._endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._filter: _Realism | None = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._token = secrets.token_hex(16)
        self._channel_dir: str | None = None
        self._channel: Any = None  # the learner-facing listener: a werkzeug server or a channel.Bridge

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The base URL every client and the learner's worker talk to."""
        if self._endpoint_url is None:
            raise ServiceError("the aws service has not been started")
        return self._endpoint_url

    @property
    def running(self) -> bool:
        """Whether the endpoint is up (for the embedded server: its thread serves requests)."""
        if self.backend == "moto":
            return self._thread is not None and self._thread.is_alive()
        return self._endpoint_url is not None

    def start(self) -> None:
        """Start the embedded server (idempotent), or check that the external endpoint answers."""
        if self.backend == "external":
            self._check_reachable()
            return
        if self.running:
            return
        try:
            self._start_moto()
        except ServiceError:
            raise
        except Exception as exc:  # an import or bind failure: the grader cannot grade
            raise ServiceError(f"could not start the embedded moto server: {exc}") from exc

    def _start_moto(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            """moto's request handler without werkzeug's per-request log lines."""

            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

            def log(self, *args: Any, **kwargs: Any) -> None:
                pass

        self._filter = _Realism(DomainDispatcherApplication(create_backend_app))
        self._app = _AdminGuard(self._filter, self._token)
        self._handler = QuietHandler
        server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=QuietHandler)
        server.daemon_threads = True  # type: ignore[attr-defined]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="grader-moto-server",
            daemon=True,
        )
        thread.start()
        host, port = server.server_address[:2]
        self._server, self._thread = server, thread
        self._endpoint_url = f"http://{host}:{port}"
        # moto keeps its state in module globals: a server started earlier in this process
        # (or a mock_aws block) may have left some behind
        self.reset()

    def stop(self) -> None:
        """Stop the embedded server and free its port; nothing to do for an external endpoint."""
        self._clients.clear()
        self._session = None
        self._close_channel()
        if self.backend == "external":
            return
        server, thread = self._server, self._thread
        self._server = self._thread = self._filter = None
        self._endpoint_url = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=_START_TIMEOUT)

    def reset(self) -> None:
        """Wipe all state: moto's reset API, LocalStack's, or (elsewhere) delete what exercises create."""
        if self._filter is not None:
            self._filter.disarm()
            with self._filter._lock:
                self._filter.calls.clear()
        if self._post("/moto-api/reset"):
            # moto draws ids (vpc-..., receipt handles) from one generator: seeded, they are the same
            # every run, and so is feedback that names them
            self._post(f"/moto-api/seed?a={ID_SEED}")
            return
        if self._post("/_localstack/state/reset"):
            return
        if self.backend == "moto":
            raise ServiceError("the embedded moto server did not accept a reset")
        self._sweep()

    def _post(self, path: str) -> bool:
        request = urllib.request.Request(self.endpoint_url + path, data=b"", method="POST",
                                         headers={_AdminGuard.HEADER: self._token})
        try:
            with urllib.request.urlopen(request, timeout=_START_TIMEOUT) as response:
                return 200 <= response.status < 300
        except urllib.error.HTTPError:
            return False
        except OSError as exc:
            raise ServiceError(f"the AWS endpoint {self.endpoint_url} does not answer: {exc}") from exc

    def _check_reachable(self) -> None:
        request = urllib.request.Request(self.endpoint_url + "/", method="GET")
        try:
            urllib.request.urlopen(request, timeout=_START_TIMEOUT).close()
        except urllib.error.HTTPError:
            pass  # it answered; an error status is fine
        except OSError as exc:
            raise ServiceError(
                f"the AWS endpoint {self.endpoint_url} does not answer ({exc}); "
                f"start it, or unset --aws-endpoint / {ENDPOINT_ENV} to use the embedded server"
            ) from exc

    def _sweep(self) -> None:
        """Delete the tables, buckets, queues and streams an exercise may have left behind."""
        dynamodb = self.client("dynamodb")
        for page in dynamodb.get_paginator("list_tables").paginate():
            for table in page["TableNames"]:
                dynamodb.delete_table(TableName=table)
        s3 = self.resource("s3")
        for bucket in s3.buckets.all():
            bucket.object_versions.delete()
            bucket.objects.delete()
            bucket.delete()
        sqs = self.client("sqs")
        for page in sqs.get_paginator("list_queues").paginate():
            for url in page.get("QueueUrls", []):
                sqs.delete_queue(QueueUrl=url)
        kinesis = self.client("kinesis")
        for page in kinesis.get_paginator("list_streams").paginate():
            for stream in page["StreamNames"]:
                kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)

    # -- what hidden tests and the worker use --------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        """Environment of the learner's worker: this endpoint, fake credentials, no config files."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def worker_channels(self) -> dict[str, str]:
        """{AWS_ENDPOINT_URL: a Unix socket that reaches this endpoint}, for learner code without a network.

        The embedded server serves its application (admin guard included) on the socket too; an
        external endpoint is relayed to. Made on first use, removed by stop()."""
        if self._channel is None:
            self._channel_dir = tempfile.mkdtemp(prefix="grader-aws-")
            path = os.path.join(self._channel_dir, "aws.sock")
            if self.backend == "moto":
                self._channel = self._serve_unix(path)
            else:
                from grader.sandbox.channel import Bridge

                parts = urllib.parse.urlsplit(self.endpoint_url)
                self._channel = Bridge(path, parts.hostname or "127.0.0.1",
                                       parts.port or (443 if parts.scheme == "https" else 80))
        return {"AWS_ENDPOINT_URL": os.path.join(self._channel_dir or "", "aws.sock")}

    def _serve_unix(self, path: str) -> Any:
        from werkzeug.serving import make_server

        server = make_server(f"unix://{path}", 0, self._app, threaded=True, request_handler=self._handler)
        server.daemon_threads = True  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": _POLL_INTERVAL},
                         name="grader-moto-channel", daemon=True).start()
        return server

    def _close_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            if hasattr(channel, "shutdown"):
                channel.shutdown()
                channel.server_close()
            else:
                channel.close()
        if self._channel_dir:
            shutil.rmtree(self._channel_dir, ignore_errors=True)
            self._channel_dir = None

    def session(self) -> Any:
        """A boto3 Session with fake credentials in us-east-1, never reading the user's AWS config."""
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                region_name=REGION,
            )
        return self._session

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client bound to this endpoint; cached per service when called without options."""
        if not kwargs and service_name in self._clients:
            return self._clients[service_name]
        made = self.session().client(service_name, endpoint_url=self.endpoint_url, **kwargs)
        if not kwargs:
            self._clients[service_name] = made
        return made

    def resource(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 resource bound to this endpoint."""
        return self.session().resource(service_name, endpoint_url=self.endpoint_url, **kwargs)

    def calls(self, operation: str) -> int:
        """How many requests of a JSON-protocol operation (e.g. "DynamoDB_20120810.PutItem") the endpoint
        has served since the last reset; embedded only."""
        if self._filter is None:
            raise UnsupportedOnBackend("counting calls needs the embedded moto server")
        with self._filter._lock:
            return self._filter.calls.get(operation, 0)

    def put_objects(self, bucket: str, objects: Mapping[str, bytes]) -> None:
        """Seed many objects into an existing bucket fast: straight into moto's store when embedded."""
        if self.backend == "moto":
            from moto.s3.models import s3_backends

            store = s3_backends[ACCOUNT_ID]["aws"]
            for key, body in objects.items():
                store.put_object(bucket, key, body)
            return
        from concurrent.futures import ThreadPoolExecutor

        s3 = self.client("s3")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda item: s3.put_object(Bucket=bucket, Key=item[0], Body=item[1]), objects.items()))

    def simulate_kinesis_lag(self, lag_ms: int = 5000) -> None:
        """Until reset(), the first GetRecords on each shard returns no records and MillisBehindLatest=lag_ms."""
        if self._filter is None:
            raise UnsupportedOnBackend(f"simulating Kinesis lag needs the embedded moto server, not {self.backend}")
        self._filter.arm(lag_ms)


def make_service(options: ServiceOptions) -> AwsService:
    """The aws service the options ask for: external when an endpoint is given, else embedded moto."""
    return AwsService(options.aws_endpoint or os.environ.get(ENDPOINT_ENV) or None)
