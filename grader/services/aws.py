"""The aws service: an embedded moto server on loopback, or an external AWS-compatible endpoint.

The embedded server is moto's WSGI application served by werkzeug in a thread of the grader's
process (what moto's ThreadedMotoServer does), with three differences: a free port, no request
log, and a stop() that also closes the listening socket. moto and werkzeug are imported only in
start(), so an exercise that does not list "aws" never pays for them. start() listens at once and
loads moto in a thread (connections wait in the listening socket's backlog until it serves), so the
learner's sandbox starts meanwhile; `warm(services)` loads the backends learner code will call the
same way. reset() waits for both, and raises ServiceError when moto could not be loaded.

Every request to the embedded server passes through the WSGI filter `Realism`
(grader/services/aws_realism.py), which answers like AWS where moto does not: DynamoDB's batch
limit, documented errors where moto crashes, and the behaviours a hidden test switches on through
this service (`simulate_*`, `refuse_reserved_words`). Requests of the grader's own clients carry
this process's secret and meet none of the switched-on behaviours; the learner's requests are counted.

Learner code never gets moto's admin API (/moto-api/...: reset, state dumps, the recorder): the
`_AdminGuard` filter answers it only to requests that carry this process's secret token, which
only the grader's own calls send. Learner code in a namespace sandbox has no network; it reaches
the endpoint through `worker_channels()`: a Unix socket (the same WSGI application served by a
second listener, or a relay to an external endpoint) that the sandbox binds in.
"""
from __future__ import annotations

import base64
import collections
import copy
import functools
import gc
import hmac
import importlib
import io
import json
import os
import pickle
import secrets
import shutil
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, Mapping, TypeVar

from grader import collecting
from grader.errors import ServiceError, UnsupportedOnBackend
from grader.services import ServiceOptions
from grader.services import aws_realism
from grader.services.aws_realism import DEFAULT_PAGE_SIZE, GRADER_HEADER, Realism
from grader.services.cache import cache_dir, read_verified, write_verified

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
_POLL_INTERVAL = 0.02  # how often serve_forever looks for shutdown(); bounds the time stop() takes
_LOAD_TIMEOUT = 120.0  # loading moto takes a second or two; a machine busy enough to take longer is broken

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


ID_SEED = 2005  # seeds moto's id generator and the filter's choices at every reset


def _json_response(start_response: Callable[..., Any], status: str, content_type: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def _reset_moto(everything: bool) -> bool:
    """Reset moto in this process (the server is a thread of it) and reseed its id generator; False
    where this moto lacks what it takes (then its reset API is used). Nothing is reset when no
    request reached moto since the last reset (`everything` false): the state is already empty."""
    try:
        from moto.moto_api._internal import mock_random
        from moto.moto_api._internal.models import moto_api_backend
    except ImportError:
        return False
    if everything:
        moto_api_backend.reset()  # what /moto-api/reset does, without the HTTP round trip
    # moto draws ids (vpc-..., receipt handles) from one generator: seeded, they are the same every
    # run, and so is feedback that names them
    mock_random.seed(ID_SEED)
    return True


def _started_holding(thread: threading.Thread) -> None:
    """Start a thread that loads moto, holding collections until it releases them."""
    collecting.hold()
    try:
        thread.start()
    except BaseException:
        collecting.release()
        raise


# Modules moto imports inside a request, the first time one needs them: every service's first request
# registers its account with IAM (moto.iam.models), and every Kinesis PutRecord looks up Lambda's
# backend for event source mappings, none or not (moto.awslambda). Imported while the backends warm
# up, before learner code calls, instead of in the first such request (70-110 ms of a queue_vs_stream
# grade's requests under cProfile).
_IMPORTED_IN_EVERY_FIRST_REQUEST = ("moto.iam.models",)
_IMPORTED_IN_REQUESTS_OF = {"kinesis": ("moto.awslambda.utils",)}


def _import_for_requests(services: Iterable[str]) -> None:
    modules = [*_IMPORTED_IN_EVERY_FIRST_REQUEST, *(m for s in services for m in _IMPORTED_IN_REQUESTS_OF.get(s, ()))]
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # a moto without it: its request imports nothing either
            pass


def _keep_loaded() -> None:
    """What moto loaded (its modules, a service's backend app) lives as long as the process: out of the
    collector's sight, collections walk only what grading makes (a full collection of a process that
    holds moto, boto3 and pytest takes 60-150 ms, and a grade made one or two). moto loads in a thread
    of its own while pytest starts, so this freezes whatever else the process holds at that moment
    too: long-lived as well (pytest's collection, the grader's imports), but for the odd garbage cycle
    of a check that runs meanwhile, then kept for good; once per service a process loads. Collections
    are held while it loads (`collecting.hold`, from the moment its thread is started): the checks that
    run meanwhile collect once it is done. A cold vpc_networking grade spent 24 ms in collections that
    EC2's loading set off."""
    gc.freeze()


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


def _quicker_moto() -> None:
    """Remember two answers moto works out again for every request: the folders of its package (its
    dispatcher lists them to read the Host header) and the method names of a response class (found with
    inspect.getmembers). Each took 1.5 ms a request, as long as the rest of moto's work on a small one.
    A moto without these functions is left as it is. And a third, for loading EC2: the regions."""
    import boto3.session
    import moto.backends as backends
    import moto.core.responses as responses

    listing = getattr(backends, "list_of_moto_modules", None)
    if listing is not None and not getattr(listing, "remembered", False):
        modules = tuple(listing())

        def list_of_moto_modules() -> tuple[str, ...]:
            return modules

        list_of_moto_modules.remembered = True  # type: ignore[attr-defined]
        backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]
    names = getattr(responses, "method_names_from_class", None)
    if names is not None and not hasattr(names, "cache_info"):
        responses.method_names_from_class = functools.cache(names)  # type: ignore[assignment]
    # moto's models ask new boto3 Sessions for the regions of a service while their modules load (EC2's
    # three times, once per partition); each new Session loads botocore's data again: its endpoints and
    # the service's whole model (EC2's: 0.2 s of CPU each time). The answer is botocore's data files, the
    # same for every Session of this process: asked of one Session, each file is loaded once.
    regions = boto3.session.Session.get_available_regions
    if not hasattr(regions, "remembered"):
        answers: dict[tuple[Any, ...], list[str]] = {}
        asked = functools.cache(lambda: boto3.session.Session(botocore_session=_botocore_session()))

        def get_available_regions(session: Any, service_name: str, partition_name: str = "aws",
                                  allow_non_regional: bool = False) -> list[str]:
            key = (service_name, partition_name, allow_non_regional)
            if key not in answers:
                answers[key] = regions(asked(), service_name, partition_name, allow_non_regional)
            return list(answers[key])

        get_available_regions.remembered = True  # type: ignore[attr-defined]
        boto3.session.Session.get_available_regions = get_available_regions  # type: ignore[method-assign]
    _kept_moto_resources()
    _authorization_when_enforced()
    _timestamps_parsed_once()
    _attribute_names_worked_out_once()


_CUSTOM_LOOKUP = {"__getattr__", "__getattribute__"}


def _attribute_names_worked_out_once() -> None:
    """moto's response serializer finds each member of a reply in its Python object by trying names: the
    model's, a snake_case form, names without the shape's or the class's prefix. For every member of
    every item it made six alias objects and asked each whether it applies, and tried every one of the
    reply's key-path transformers against the member's path (s3_keys' learner requests: 0.18 s of the
    embedded server's CPU before, 0.14 s after; a dynamodb_crud grade 12% less CPU). Which names to
    try depends only on the object's class, the member's name and its shape (with the structure it
    belongs to), and which transformer applies only on the path: both are worked out once. The names are still tried in the
    same order on each object; a picker moto configures otherwise (other aliases, its own way of
    naming), and an object whose class looks its attributes up its own way (__getattr__,
    __getattribute__), have their names worked out as before."""
    try:
        import moto.core.serialize as serialize
    except ImportError:  # a moto before its response serializer
        return
    picker = getattr(serialize, "AttributePicker", None)
    defaults = getattr(serialize, "DEFAULT_ALIAS_PROVIDERS", None)
    missing = getattr(serialize, "MISSING", None)
    get_value = getattr(serialize, "get_value", None)
    xformed = getattr(serialize, "XFormedAttributePicker", None)
    if picker is None or defaults is None or missing is None or get_value is None or xformed is None \
            or getattr(picker.__call__, "remembered", False):
        return
    pick = picker.__call__
    known_types = {picker, xformed}
    names: dict[tuple[Any, ...], tuple[str, ...]] = {}
    transforms: dict[int, tuple[Any, dict[str, Any]]] = {}  # id of a transformer table: (it, path: transform)
    kinds: dict[type, bool] = {}  # a class: whether its objects' attributes are plain
    none = object()

    def remembered(self: Any, context: Any) -> Any:
        if type(self) not in known_types or self.alias_providers is not defaults:
            return pick(self, context)  # names moto works out its own way
        obj, shape = context.obj, context.shape
        kind = type(obj)
        plain = kinds.get(kind)
        if plain is None:  # attributes looked up as a plain class does: no __getattr__ or __getattribute__ of its own
            plain = kinds[kind] = all(c.__module__ == "builtins" or not _CUSTOM_LOOKUP & set(vars(c))
                                      for c in kind.__mro__)
        if not plain:
            return pick(self, context)  # names that may differ from one object of the class to the next
        key = (kind, context.key, shape, getattr(shape, "parent", None), type(self))
        tried = names.get(key)
        if tried is None:
            if len(names) > 100_000:
                names.clear()
            tried = names[key] = tuple(self.get_possible_keys(context))
        value = None
        for name in tried:
            found = get_value(obj, name, missing)
            if found is not missing:
                value = found
                break
        table = self.response_transformers
        if table:
            entry = transforms.get(id(table))
            if entry is None or entry[0] is not table:
                if len(transforms) > 1_000:
                    transforms.clear()
                entry = transforms[id(table)] = (table, {})
            path = f"{context.key_path}.{context.key}"
            transform = entry[1].get(path)
            if transform is None:
                transform = entry[1][path] = next(
                    (f for suffix, f in table.items() if path.endswith(suffix)), none)
            if transform is not none:
                value = transform(value)
        return value

    remembered.remembered = True  # type: ignore[attr-defined]
    remembered.original = pick  # type: ignore[attr-defined]
    picker.__call__ = remembered


def _timestamps_parsed_once() -> None:
    """moto's response serializer turns every timestamp it writes into a datetime first, with botocore's
    parse_to_aware_datetime, and S3 keeps its objects' LastModified as text: a ListObjectsV2 page of
    1,000 keys parsed 1,000 strings with dateutil (55 ms of the page's 100). Each text is parsed once
    (`worker.remembering_timestamps`: the same datetime, immutable)."""
    from grader.sandbox.worker import remembering_timestamps

    try:
        import moto.core.serialize as serialize
    except ImportError:  # a moto before its response serializer
        return
    parse = getattr(serialize, "parse_to_aware_datetime", None)
    if parse is not None and not getattr(parse, "remembered", False):
        serialize.parse_to_aware_datetime = remembering_timestamps(parse)


def _authorization_when_enforced() -> None:
    """moto checks a request's signature and IAM permissions only after INITIAL_NO_AUTH_ACTION_COUNT
    requests (never, unless that variable is set); before, it only counts the request. Yet each check
    first imports its IAM request classes, and the first import loads moto's IAM, STS and S3 models: 30 ms
    of CPU in the first request of a dynamodb_crud or queue_vs_stream grade. Counted the same, without
    the import, until moto would enforce; from then on moto's own check."""
    from moto import settings
    from moto.core.responses import ActionAuthenticatorMixin as mixin

    for name in ("_authenticate_and_authorize_normal_action", "_authenticate_and_authorize_s3_action"):
        enforce = getattr(mixin, name, None)
        if enforce is None or getattr(enforce, "counted", False):
            continue

        def authorize(self: Any, *args: Any, _enforce: Callable[..., None] = enforce, **kwargs: Any) -> None:
            if mixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
                mixin.request_count += 1  # what moto's check does at this count
                return
            _enforce(self, *args, **kwargs)

        authorize.counted = True  # type: ignore[attr-defined]
        setattr(mixin, name, authorize)


def _kept_moto_resources() -> None:
    """moto's EC2 reads 92 gzipped JSON data files as its models load (the instance types, and their
    offerings in every region and zone): 85 ms of CPU, most of it parsing JSON. Each is kept parsed in
    the grader's private cache (`cache.kept`, as marshal: plain JSON values) and read back from there
    while the file is unchanged. moto's modules take `load_resource` by name when they load, so this
    is in place before any service backend loads; a resource that is not a plain file is read as moto
    reads it."""
    from importlib import resources

    import moto.utilities.utils as utilities

    from grader.services.cache import kept

    load = utilities.load_resource
    if getattr(load, "kept", False):
        return
    package = resources.files("moto")

    def load_resource(*args: str) -> Any:
        try:
            if len(args) == 2:  # an older moto: (module, resource) in the folder of that module, plain JSON
                module, resource = args
                folder = Path(os.path.dirname(os.fspath(sys.modules[module].__file__ or "")))
                paths = [folder / resource]
            else:
                (resource,) = args
                names = (resource if resource.endswith(".gz") else f"{resource}.gz", resource)  # moto's order
                paths = [package / name for name in names]
            source = next((os.fspath(path) for path in paths if isinstance(path, Path) and path.is_file()), None)
        except (KeyError, OSError, TypeError, ValueError):
            source = None
        if source is None:
            return load(*args)
        return kept("moto", source, lambda: load(*args))

    load_resource.kept = True  # type: ignore[attr-defined]
    utilities.load_resource = load_resource


@functools.cache
def _data_loader() -> Any:
    """The one loader of botocore's data files in this process: each file is read and parsed once."""
    from botocore.loaders import create_loader

    from grader.sandbox.worker import quicker_clients, quicker_service_lookup, quicker_timestamps

    quicker_service_lookup()
    quicker_clients()
    quicker_timestamps()
    _kept_data_files()
    return create_loader()


KEPT_DATA_SIZE = 64 * 1024  # a botocore data file at least this large is parsed once per machine


def _kept_data_files() -> None:
    """botocore's large data files (endpoints.json, each service's model: EC2's is 5 MB of JSON, 67 ms to
    parse) are kept parsed in the grader's private cache (`cache.kept`, as pickle: botocore reads them
    into OrderedDicts) and read back in a third of that time or less, by every loader of this process
    (the grader's clients', moto's). The sandbox, which never sees that folder, parses them itself."""
    from botocore import loaders

    from grader.services.cache import kept

    file_loader = loaders.JSONFileLoader
    if getattr(file_loader.load_file, "kept", False):
        return
    load, extensions = file_loader.load_file, tuple(getattr(loaders, "_JSON_OPEN_METHODS", None) or (".json",))

    def load_file(self: Any, file_path: str) -> Any:
        source = next((file_path + ext for ext in extensions if os.path.isfile(file_path + ext)), None)
        if source is None or os.path.getsize(source) < KEPT_DATA_SIZE:
            return load(self, file_path)
        return kept("botocore", source, lambda: load(self, file_path), codec="pickle")

    load_file.kept = True  # type: ignore[attr-defined]
    file_loader.load_file = load_file  # type: ignore[method-assign]


def _botocore_session() -> Any:
    """A new botocore Session (its own events and credentials) reading data through `_data_loader()`."""
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", _data_loader())
    return session


def _quicker_sqs() -> None:
    """Once moto's SQS is loaded: its receive checks every message it hands out against the queue's
    retention period, read by working out all of the queue's attributes (each a pass over its messages):
    a receive of 10 from a queue of 40 took 30 ms. The same test, reading the one attribute.
    And the names of those attributes (moto turns each from CamelCase to snake_case every time it works
    them out, two or three times a message sent: a third of that work) are remembered.
    Within one SendMessage (each entry of a batch is one) or one GetQueueAttributes, a queue's
    attributes are worked out once: moto worked them all out four times a message sent, to read
    ContentBasedDeduplication, and twice an attribute asked for (77 ms of a queue_vs_stream regrade)."""
    models = sys.modules.get("moto.sqs.models")
    snake = getattr(models, "camelcase_to_underscores", None)
    if snake is not None and not hasattr(snake, "cache_info"):
        models.camelcase_to_underscores = functools.lru_cache(maxsize=256)(snake)  # type: ignore[union-attr]
    _sqs_attributes_once_a_request(models)
    backend = getattr(models, "SQSBackend", None)
    check = getattr(backend, "is_message_valid_based_on_retention_period", None)
    if check is None or getattr(check, "remembered", False):
        return
    from moto.core.utils import unix_time

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    is_message_valid_based_on_retention_period.remembered = True  # type: ignore[attr-defined]
    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def _sqs_attributes_once_a_request(models: Any) -> None:
    queue_class, backend = getattr(models, "Queue", None), getattr(models, "SQSBackend", None)
    worked_out = getattr(queue_class, "attributes", None)
    if not isinstance(worked_out, property) or worked_out.fget is None or getattr(worked_out.fget, "once", False):
        return
    request = threading.local()  # per server thread: {id(queue): (queue, its attributes)} while one runs

    def attributes(self: Any) -> Any:
        kept = getattr(request, "queues", None)
        if kept is None:
            return worked_out.fget(self)
        if id(self) not in kept:
            kept[id(self)] = (self, worked_out.fget(self))
        return kept[id(self)][1]

    def once_a_request(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(request, "queues", None) is not None:  # inside another one: its snapshot
                return method(self, *args, **kwargs)
            request.queues = {}
            try:
                return method(self, *args, **kwargs)
            finally:
                request.queues = None

        return run

    for name in ("send_message", "get_queue_attributes"):
        if callable(getattr(backend, name, None)):
            setattr(backend, name, once_a_request(getattr(backend, name)))
    attributes.once = True  # type: ignore[attr-defined]
    queue_class.attributes = property(attributes, worked_out.fset, worked_out.fdel, worked_out.__doc__)


def _quiet(base: type) -> type:
    """A request handler class `base` without werkzeug's per-request log lines."""

    class QuietHandler(base):  # type: ignore[valid-type,misc]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

        def log(self, *args: Any, **kwargs: Any) -> None:
            pass

    return QuietHandler


class _Body(io.BytesIO):
    """A response body as botocore reads one (`stream()`, or `read()` for a streaming output)."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        while chunk := self.read(65536):
            yield chunk


T = TypeVar("T")
KEPT_STATES = 16  # states kept by AwsService.kept, the least recently used forgotten first


def _moto_state() -> Any:
    """A copy of moto's whole state in this process (every service, account and region in use) and of
    its id generator; None where this moto keeps its state otherwise, or holds what cannot be copied.
    One deepcopy for all: a backend's references to another's objects (RDS to EC2's subnets) stay
    references in the copy; the per-service dicts themselves are never copied."""
    try:
        from moto.core.base_backend import BackendDict
        from moto.moto_api._internal import mock_random

        dicts = list(BackendDict._instances)
        memo: dict[int, Any] = {id(d): d for d in dicts}
        accounts = copy.deepcopy([dict(d) for d in dicts], memo)
        return dicts, accounts, mock_random.getstate()
    except Exception:  # another moto's layout, or a lock or file in some backend: nothing is kept
        return None


def _restore_moto(state: Any) -> None:
    """Put a copy of `state` (from _moto_state) in place of moto's state, which a reset just emptied."""
    from moto.core.base_backend import BackendDict
    from moto.moto_api._internal import mock_random

    dicts, accounts, random_state = state
    memo: dict[int, Any] = {id(d): d for d in dicts}
    copied = copy.deepcopy(accounts, memo)
    for backends, kept in zip(dicts, copied):
        for account, regional in kept.items():
            dict.__setitem__(backends, account, regional)
        if not any(d is backends for d in BackendDict._instances):
            BackendDict._instances.append(backends)
    mock_random.setstate(random_state)


def _lasting_path(key: Hashable, sources: Iterable[str | Path]) -> Path | None:
    """Where the state `key` built by `sources` is kept between processes: under a digest of the key, those
    files' bytes, this module's and the versions of moto, botocore and Python (whose classes it holds)."""
    import hashlib

    import botocore
    import moto

    digest = hashlib.sha256(repr((key, moto.__version__, botocore.__version__, sys.version)).encode())
    try:
        for source in sorted({str(s) for s in sources} | {__file__, aws_realism.__file__}):
            digest.update(Path(source).read_bytes())
        return cache_dir() / f"moto-state-{digest.hexdigest()[:40]}.pickle"
    except (OSError, ServiceError):
        return None


class _StatePickler(pickle.Pickler):
    """A moto state as bytes: a service's BackendDict (which other services' objects refer to) by its name."""

    def persistent_id(self, obj: Any) -> Any:
        from moto.core.base_backend import BackendDict

        return ("backends", obj.service_name) if isinstance(obj, BackendDict) else None


class _StateUnpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        from moto.backends import get_backend

        return get_backend(pid[1])


def _keep_lasting_state(path: Path, state: Any, value: Any) -> None:
    dicts, accounts, random_state = state
    data = io.BytesIO()
    try:
        _StatePickler(data, protocol=pickle.HIGHEST_PROTOCOL).dump(
            ([d.service_name for d in dicts], accounts, random_state, value))
        write_verified(path, data.getvalue())
    except Exception:  # a state this moto cannot write out, or no room: it is only built again
        return


def _lasting_state(path: Path) -> tuple[Any, Any] | None:
    """The state and value an earlier process kept at `path` (`_lasting_path`), or None. The cache is the
    grader's private folder, each file checked against its digest: learner code never sees it in the
    namespace sandbox, and uid 65534 cannot enter it (see DESIGN.md, "The database cache")."""
    data = read_verified(path)
    if data is None:
        return None
    try:
        from moto.backends import get_backend

        names, accounts, random_state, value = _StateUnpickler(io.BytesIO(data)).load()
        return ([get_backend(name) for name in names], accounts, random_state), value
    except Exception:  # written by another layout of moto's classes: built again, and written anew
        return None


class AwsService:
    """An AWS-compatible endpoint for one grading process, with clients bound to it."""

    name = "aws"
    region = REGION

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.backend = "external" if endpoint_url else "moto"
        self._endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._filter: Realism | None = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._token = secrets.token_hex(16)
        self._channel_dir: str | None = None
        self._channel: Any = None  # the learner-facing listener: a werkzeug server or a channel.Bridge
        # the embedded server listens at once and serves once moto is loaded (a thread of its own)
        self._ready = threading.Event()
        self._failure = ""  # why moto could not be loaded
        self._lock = threading.Lock()
        self._stopping = False
        self._serving: list[BaseWSGIServer] = []  # listeners whose serve_forever runs (or is about to)
        self._listeners: list[tuple[BaseWSGIServer, threading.Thread]] = []
        self._warming: threading.Thread | None = None
        self._warmed: set[str] = set()  # services whose moto backend is loaded
        self._kept: collections.OrderedDict[Hashable, tuple[Any, Any]] = collections.OrderedDict()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The base URL every client and the learner's worker talk to."""
        if self._endpoint_url is None:
            raise ServiceError("the aws service has not been started")
        return self._endpoint_url

    @property
    def ready_at_once(self) -> bool:
        """Whether a resource is ready when it is first described (the embedded endpoint): boto3's waiters in
        the learner's sandbox need not sleep their model's delay (grader/sandbox/worker.py)."""
        return self.backend == "moto"

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
        """Listen on a free port now; load moto and serve in a thread, so that the learner's sandbox
        starts while moto loads (reset() and every request wait for it)."""
        from werkzeug.serving import WSGIRequestHandler, make_server

        self._ready.clear()
        self._failure, self._stopping = "", False
        self._handler = _quiet(WSGIRequestHandler)  # moto's own replaces it once loaded, before serving
        server = make_server("127.0.0.1", 0, self._serve_request, threaded=True, request_handler=self._handler)
        server.daemon_threads = True  # type: ignore[attr-defined]
        thread = threading.Thread(target=self._serve_when_ready, args=(server,), name="grader-moto-server",
                                  daemon=True)
        host, port = server.server_address[:2]
        self._server, self._thread = server, thread
        self._listeners.append((server, thread))
        self._endpoint_url = f"http://{host}:{port}"
        thread.start()
        _started_holding(threading.Thread(target=self._load_moto, name="grader-moto-load", daemon=True))

    def _load_moto(self) -> None:
        try:
            # An EC2 backend otherwise builds 1,300 public images (and a snapshot each) every time a
            # reset is followed by an EC2 request: 50 ms a test. No exercise uses images; run_instances
            # takes any ImageId (moto does not validate it unless MOTO_ENABLE_AMI_VALIDATION is set).
            os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            import moto.moto_server.werkzeug_app as moto_app
            from werkzeug.serving import WSGIRequestHandler

            _quicker_moto()

            # moto's handler (5.1.x+) keeps underscores in S3 metadata header names; before it, werkzeug's own
            self._handler = _quiet(getattr(moto_app, "MotoRequestHandler", WSGIRequestHandler))
            with self._lock:
                for server, _ in self._listeners:
                    server.RequestHandlerClass = self._handler
            realism = Realism(moto_app.DomainDispatcherApplication(moto_app.create_backend_app), self._token, ID_SEED)
            self._app = _AdminGuard(realism, self._token)
            self._filter = realism
            # moto keeps its state in module globals: a server started earlier in this process (or a
            # mock_aws block) may have left some behind
            if not _reset_moto(everything=True):
                self._filter.used = True  # the first reset() goes through moto's reset API
            _keep_loaded()
        except Exception as exc:  # an import failure: the grader cannot grade
            self._failure = f"could not start the embedded moto server: {type(exc).__name__}: {exc}"
        finally:
            self._ready.set()
            collecting.release()

    def _serve_when_ready(self, server: BaseWSGIServer) -> None:
        """Serve `server` once moto is loaded; connections made meanwhile wait in its backlog."""
        self._ready.wait()
        with self._lock:
            if self._failure or self._stopping:
                return
            self._serving.append(server)
        server.serve_forever(poll_interval=_POLL_INTERVAL)

    def _serve_request(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._app(environ, start_response)  # served only once moto is loaded

    def _wait_ready(self) -> None:
        """Wait until moto is loaded; ServiceError when it could not be."""
        if self.backend != "moto":
            return
        if not self._ready.wait(timeout=_LOAD_TIMEOUT):
            raise ServiceError(f"the embedded moto server did not load within {_LOAD_TIMEOUT:g} s")
        if self._failure:
            raise ServiceError(self._failure)

    def warm(self, services: Iterable[str]) -> None:
        """Load moto's backends of `services` in the background (learner code will call them), while the
        learner's sandbox starts; the next reset() waits for it. Nothing to do once loaded."""
        if self.backend != "moto" or self._warming is not None and self._warming.is_alive():
            return
        wanted = [name for name in services if name not in self._warmed]
        if wanted:
            self._warming = threading.Thread(target=self._warm, args=(wanted,), name="grader-moto-warm", daemon=True)
            _started_holding(self._warming)

    def _warm(self, services: list[str]) -> None:
        try:
            self._load_backends(services)
        finally:
            collecting.release()

    def _load_backends(self, services: list[str]) -> None:
        self._ready.wait()
        if self._failure or self._filter is None:
            return
        dispatcher = self._filter.app
        for name in services:
            try:
                with dispatcher.lock:
                    if name not in dispatcher.app_instances:
                        dispatcher.app_instances[name] = dispatcher.create_app(name)
            except Exception:  # an unknown name: its first request says so, as without warming
                pass
            self._warmed.add(name)
        _import_for_requests(services)
        _quicker_sqs()
        # building a backend app built its us-east-1 backend too, drawing ids: the next reset drops it,
        # so a grade draws the same ids whether or not its services were warmed
        self._filter.used = True
        _keep_loaded()

    def stop(self) -> None:
        """Stop the embedded server and free its port; nothing to do for an external endpoint."""
        self._clients.clear()
        self._session = None
        if self.backend == "external":
            self._close_channel()
            return
        with self._lock:
            self._stopping = True
            serving = list(self._serving)
            listeners, self._listeners, self._serving = list(self._listeners), [], []
        # each server notices shutdown() within _POLL_INTERVAL: asked all at once, they stop in one interval
        stopping = [threading.Thread(target=server.shutdown, name="grader-moto-stop") for server in serving]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        for server, thread in listeners:
            server.server_close()
            thread.join(timeout=_START_TIMEOUT)
        self._channel = None
        self._close_channel()
        self._server = self._thread = self._filter = None
        self._endpoint_url = None

    def check(self) -> None:
        """Raise ServiceError when the endpoint no longer answers."""
        if self.backend == "moto":
            if self._ready.is_set() and self._failure:
                raise ServiceError(self._failure)
            if not self.running:
                raise ServiceError("the embedded moto server stopped")
            return
        self._check_reachable()

    def reset(self) -> None:
        """Wipe all state: moto's own (in this process), LocalStack's reset API, or (elsewhere) delete
        what exercises create."""
        if self.backend == "moto":
            self._wait_ready()
            if self._warming is not None:
                self._warming.join()
        if self._filter is not None:
            used, self._filter.used = self._filter.used, False
            if _reset_moto(everything=used):
                self._filter.reset()
                return
            self._filter.reset()
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

        with self._lock:
            server = make_server(f"unix://{path}", 0, self._serve_request, threaded=True,
                                 request_handler=self._handler)
            server.daemon_threads = True  # type: ignore[attr-defined]
            thread = threading.Thread(target=self._serve_when_ready, args=(server,), name="grader-moto-channel",
                                      daemon=True)
            self._listeners.append((server, thread))
        thread.start()
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
                botocore_session=_botocore_session(),
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                region_name=REGION,
            )
            if self.backend == "moto":
                self._session.events.register("before-sign", self._mark_as_grader)
                self._session.events.register("before-send", self._send_in_process)
        return self._session

    def _mark_as_grader(self, request: Any, **kwargs: Any) -> None:
        request.headers[GRADER_HEADER] = self._token

    def _send_in_process(self, request: Any, **kwargs: Any) -> Any:
        """Hand a request of the grader's own clients straight to the server's application (the same
        filters as over HTTP) in this thread: no socket, no HTTP parsing, no hand-over between threads
        (each a wait for the CPU on a busy machine). Learner code always comes over HTTP."""
        body = request.body
        if isinstance(body, str):
            body = body.encode()  # a form of the query protocol (EC2, SQS's older clients)
        if body is not None and not isinstance(body, (bytes, bytearray)):
            return None  # a streamed body (S3's aws-chunked uploads): sent over HTTP as usual
        self._wait_ready()
        from botocore.awsrequest import AWSResponse
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        parts = urllib.parse.urlsplit(request.url)
        headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                   for name, value in request.headers.items()}
        environ = EnvironBuilder(path=urllib.parse.unquote(parts.path), base_url=f"{parts.scheme}://{parts.netloc}",
                                 query_string=parts.query, method=request.method, headers=headers,
                                 data=bytes(body or b"")).get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        # what moto's request handler records: S3 metadata names keep their underscores
        environ["moto.preserved_header_names"] = {"HTTP_" + name.upper().replace("-", "_"): name for name in headers
                                                  if "_" in name and name.lower().startswith("x-amz-meta-")}
        chunks, status, headers = run_wsgi_app(self._serve_request, environ, buffered=True)
        data = b"".join(chunks)
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), dict(headers.items()), _Body(data))

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

    def kept(self, key: Hashable, build: Callable[[], T], *, sources: Iterable[str | Path] = ()) -> T:
        """`build()`, which sets up a fixed state (a lab network, say) right after a reset, made once: on the
        embedded endpoint the state it made (every service's, and moto's id generator) and what it
        returned are kept under `key`, and a later call right after a reset restores them (a copy) instead
        of building again: milliseconds instead of hundreds of requests. What the learner's code meets is
        the same either way, ids included. `build` runs every time elsewhere, when anything reached the
        endpoint since the last reset, or when moto's state cannot be copied. Kept for the life of this
        service (a `grade watch` or a batch worker): `key` names what `build` makes, so a change to
        what it builds needs a new key.

        `sources`, the files whose code decides what `build` makes, keep the state between processes too:
        in the grader's cache (`_lasting_state`), so a `grade run` restores what an earlier one built."""
        if self.backend != "moto" or self._filter is None or self._filter.used:
            return build()
        self._wait_ready()
        lasting_path = _lasting_path(key, sources) if sources and key not in self._kept else None
        if lasting_path is not None:
            lasting = _lasting_state(lasting_path)
            if lasting is not None:
                self._kept[key] = lasting
        if key in self._kept:
            self._kept.move_to_end(key)
            state, value = self._kept[key]
            _restore_moto(state)
            self._filter.used = True
            return copy.deepcopy(value)
        value = build()
        state = _moto_state()
        if state is not None:
            self._kept[key] = (state, copy.deepcopy(value))
            while len(self._kept) > KEPT_STATES:
                self._kept.popitem(last=False)
            if lasting_path is not None:
                _keep_lasting_state(lasting_path, state, value)
        return value

    def put_objects(self, bucket: str, objects: Mapping[str, bytes]) -> None:
        """Seed many objects into an existing bucket fast: straight into moto's store when embedded."""
        if self.backend == "moto":
            from moto.s3.models import s3_backends

            if self._filter is not None:
                self._filter.used = True  # written behind the server's back: the next reset wipes it

            backends = s3_backends[ACCOUNT_ID]
            try:
                store = backends["aws"]  # keyed by partition; moto before 5.0.8 used "global"
            except KeyError:
                store = backends["global"]
            for key, body in objects.items():
                store.put_object(bucket, key, body)
            return
        from concurrent.futures import ThreadPoolExecutor

        s3 = self.client("s3")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda item: s3.put_object(Bucket=bucket, Key=item[0], Body=item[1]), objects.items()))

    def put_items(self, table: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Seed many items (DynamoDB's attribute-value form, `checks.aws.dynamo_item`) into an existing
        table fast: straight into moto's store when embedded, else BatchWriteItem 25 at a time."""
        items = list(items)
        if self.backend == "moto":
            from moto.dynamodb.models import dynamodb_backends

            if self._filter is not None:
                self._filter.used = True  # written behind the server's back: the next reset wipes it
            store = dynamodb_backends[ACCOUNT_ID][REGION]
            for item in items:
                store.put_item(table, dict(item))
            return
        dynamodb = self.client("dynamodb")
        for start in range(0, len(items), 25):
            pending: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    def table_items(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table in DynamoDB's attribute-value form as a Scan returns it (binary values
        as bytes), in Scan order: straight from moto's store when embedded (a check reads what the
        learner wrote without moto serializing the whole table: 3 ms instead of 110 for 178 items),
        else a Scan through every page."""
        if self.backend != "moto":
            dynamodb = self.client("dynamodb")
            return [item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]
        self._wait_ready()
        from moto.dynamodb.models import dynamodb_backends

        stored = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table)
        # the JSON moto answers a Scan with (DynamoType values inside lists, binary in base64), as the SDK reads it
        answer = json.loads(json.dumps([item.to_json()["Attributes"] for item in stored.all_items()], default=_moto_json))
        return [{name: _sdk_value(value) for name, value in item.items()} for item in answer]

    # -- what the learner's code met: counts, failures of the mock, waits ------------------------

    def _embedded(self, what: str) -> Realism:
        if self.backend == "moto":
            self._wait_ready()
        if self._filter is None:
            raise UnsupportedOnBackend(f"{what} needs the embedded moto server, not the {self.backend} endpoint")
        return self._filter

    def calls(self, service: str, operation: str | None = None) -> int:
        """How many requests of an operation the learner's code made since the last reset: `calls("s3",
        "HeadObject")`, or by X-Amz-Target, `calls("DynamoDB_20120810.PutItem")`; embedded only."""
        realism = self._embedded("counting calls")
        key = f"{service}.{operation}" if operation else service
        with realism._lock:
            return realism.calls.get(key, 0)

    def take_failures(self) -> list[str]:
        """Answers of the mock no AWS SDK could parse (a 5xx, an HTML page) since the last call: failures
        of the grader's mock, never of the learner. Empty on an external endpoint."""
        return self._filter.take_failures() if self._filter is not None else []

    def long_polls(self) -> list[int]:
        """WaitTimeSeconds of the learner's ReceiveMessage calls still waiting for messages."""
        if self._filter is None:
            return []
        with self._filter._lock:
            return sorted(self._filter.long_polls.values())

    def still_creating(self) -> list[str]:
        """Tables and streams the learner created under simulate_creating() and never waited for."""
        if self._filter is None:
            return []
        with self._filter._lock:
            return sorted(name for _, name in self._filter.creating)

    def refused_while_creating(self) -> list[str]:
        """Tables and streams the learner's code used before they were ACTIVE (and was refused)."""
        if self._filter is None:
            return []
        with self._filter._lock:
            return sorted(name for (_, name), refused in self._filter.creating.items() if refused)

    # -- behaviours of AWS a hidden test switches on, until the next reset (embedded only) ------

    def simulate_creating(self) -> None:
        """Tables and streams the learner creates are CREATING until the learner describes them (what every
        waiter does): CreateTable answers TableStatus CREATING, and reads and writes are refused as on AWS."""
        self._embedded("simulating CREATING tables").switches.creating = True

    def simulate_unprocessed_items(self) -> None:
        """The learner's first BatchWriteItem writes only part of its requests and returns the rest (a
        seeded third) as UnprocessedItems, as DynamoDB does under load."""
        self._embedded("simulating UnprocessedItems").switches.unprocessed = True

    def simulate_small_pages(self, size: int = DEFAULT_PAGE_SIZE) -> None:
        """The learner's Query and Scan pages hold at most `size` items (DynamoDB stops a page at 1 MB), so
        one result spans several pages."""
        if size < 1:
            raise ValueError("a page holds at least one item")
        self._embedded("simulating small pages").switches.page_size = size

    def simulate_short_receives(self) -> None:
        """The learner's ReceiveMessage returns fewer messages than MaxNumberOfMessages (a seeded number, at
        least one when any is visible), as SQS does when it samples its servers."""
        self._embedded("simulating short receives").switches.short_receives = True

    def refuse_reserved_words(self) -> None:
        """Every expression of the learner's DynamoDB requests (KeyConditionExpression and projection paths
        too, which moto lets through) refuses a reserved word used as an attribute name, as DynamoDB does."""
        self._embedded("refusing reserved words").switches.reserved_words = True

    def race_after_read(self, operations: Iterable[str], act: Callable[[], None]) -> None:
        """Until reset(), once: right after the learner's code is answered a request of one of `operations`
        (`"dynamodb.GetItem"`, or an X-Amz-Target), run `act()`: another client's write landing between
        the learner's read and its write, as happens on a busy table. `raced()` tells whether it ran."""
        switches = self._embedded("racing the learner's reads").switches
        switches.after_read, switches.raced = (frozenset(operations), act), False

    def raced(self) -> bool:
        """Whether the act of race_after_read has run since the last reset."""
        return self._embedded("racing the learner's reads").switches.raced

    def simulate_kinesis_lag(self, lag_ms: int = 5000) -> None:
        """Until reset(), the learner's first GetRecords on each shard returns no records and
        MillisBehindLatest=lag_ms."""
        self._embedded("simulating Kinesis lag").switches.kinesis_lag_ms = lag_ms


def _moto_json(value: Any) -> Any:
    """What moto's JSON encoder writes for a value of its DynamoDB store that json cannot."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "to_json"):  # a DynamoType nested in a list or map
        return value.to_json()
    raise TypeError(f"{type(value).__name__} in a DynamoDB item")


def _sdk_value(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value of DynamoDB's JSON as botocore parses it: binary (B, BS) decoded from base64."""
    (kind, inner), = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {kind: {k: _sdk_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [_sdk_value(v) for v in inner]}
    return value


def make_service(options: ServiceOptions) -> AwsService:
    """The aws service the options ask for: external when an endpoint is given, else embedded moto."""
    return AwsService(options.aws_endpoint or os.environ.get(ENDPOINT_ENV) or None)
