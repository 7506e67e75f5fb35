"""The AWS JSON 1.1 protocol over the standard library's ``ThreadingHTTPServer``.

Why the standard library: the protocol is one POST per call with a JSON body, which
``http.server`` speaks correctly; a thread per connection is what SDK clients with keep-alive
expect; and it adds no dependency. What an ASGI stack would add (HTTP/2, async) no AWS SDK needs.

What the front end decides by itself, as AWS's front door does before the service sees a call:
a missing or foreign ``X-Amz-Target`` or an operation the service does not know
(``UnknownOperationException``), a body that is not a JSON object (``SerializationException``),
a body over the size limit (413), a request with no SigV4 ``Authorization`` header
(``MissingAuthenticationTokenException``; the signature itself is not verified: this is a test
endpoint). The Region is the one of the credential scope, as on AWS. Everything else is the
service's: it answers a dict or raises :class:`ApiError`. No request gets a traceback; only a bug
in the service gets a 500, whose ``__type`` the service names.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY_BYTES = 1 << 20  # far above KMS's largest request (4 KiB plaintext, base64, in JSON)
CONTROL_PREFIX = "/_mrkcheck/"
_CREDENTIAL = re.compile(r"Credential=[^/,\s]*/[^/,\s]*/([^/,\s]+)/[^/,\s]+/aws4_request")


class ApiError(Exception):
    """A refused call: the protocol's error ``__type``, its message and the HTTP status."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


class JsonService(Protocol):
    """What the front end needs of a service."""

    target_prefix: str  # e.g. "TrentService"
    operations: frozenset[str]  # every operation name the real service has
    internal_error: str  # the __type of a 500 (a bug in the service)

    def call(self, operation: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one call, or raise :class:`ApiError`."""
        ...

    def control(self, path: str, query: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Answer a request under ``/_mrkcheck/`` (``path`` without that prefix)."""
        ...


def region_of(authorization: str) -> str | None:
    """The Region of a SigV4 ``Authorization`` header's credential scope."""
    match = _CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def dispatch(service: JsonService, headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    """One JSON 1.1 call: check the envelope, then let the service answer (raises ApiError).
    ``headers``: names in lower case (HTTP header names are case-insensitive)."""
    target = headers.get("x-amz-target") or ""
    prefix, _, operation = target.partition(".")
    if prefix != service.target_prefix or operation not in service.operations:
        shown = target[:80] or "(none)"
        raise ApiError("UnknownOperationException", f"Unknown operation {shown}")
    region = region_of(headers.get("authorization") or "")
    if region is None:
        raise ApiError(
            "MissingAuthenticationTokenException",
            "Request is missing a SigV4 Authorization header with a credential scope",
        )
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        raise ApiError("SerializationException", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("SerializationException", "the request body must be a JSON object")
    return service.call(operation, region, body)


class _Handler(BaseHTTPRequestHandler):
    server: ServiceServer
    protocol_version = "HTTP/1.1"  # keep-alive, as SDK clients expect
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    timeout = 300  # seconds a connection may sit idle (or half-sent) before it is closed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if self.server.log is not None:
            self.server.log(format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request with the operation called, e.g. ``TrentService.Encrypt 200``."""
        headers = getattr(self, "headers", None)  # none yet if the request line was garbled
        target = headers.get("X-Amz-Target", "") if headers is not None else ""
        self.log_message('"%s" %s %s', self.requestline, target or "-", code)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What ``http.server`` refuses itself (a garbled request line, oversized headers, a
        method it has no ``do_`` for) gets a JSON error too, never an HTML page or a 501."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # the request line was not understood
            self.request_version = "HTTP/1.0"  # so that the answer has a status line
        status = 405 if code == 501 else code  # 501: no handler for the method
        error = "UnknownOperationException" if status == 405 else "SerializationException"
        self._send(status, {"__type": error, "message": message or explain or "bad request"})

    def do_POST(self) -> None:
        self._answer(post=True)

    def do_GET(self) -> None:
        self._answer(post=False)

    def _answer(self, post: bool) -> None:
        try:
            raw = self._body()
            path = urlsplit(self.path)
            if path.path.startswith(CONTROL_PREFIX):
                query = dict(parse_qsl(path.query))
                answer = self.server.service.control(path.path[len(CONTROL_PREFIX) :], query, raw)
            elif not post:
                raise ApiError("UnknownOperationException", "AWS JSON calls are POST requests")
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = dispatch(self.server.service, headers, raw)
            self._send(200, answer)
        except ApiError as exc:
            self._send(exc.status, {"__type": exc.error_type, "message": exc.message})
        except (
            ConnectionError,
            TimeoutError,
        ):  # the client hung up or went quiet: no one to answer
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bug in the service: a 500, never a traceback
            self.server.errors += 1
            message = f"{type(exc).__name__}: {exc}"
            self._send(500, {"__type": self.server.service.internal_error, "message": message})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ApiError("SerializationException", "chunked request bodies are not accepted")
        try:
            size = int(length) if length is not None else 0
        except ValueError:
            self.close_connection = True
            raise ApiError("SerializationException", "bad Content-Length header") from None
        if size < 0 or size > MAX_BODY_BYTES:
            self.close_connection = True  # the body is not read: the connection cannot go on
            raise ApiError(
                "RequestEntityTooLargeException",
                f"the request body is larger than {MAX_BODY_BYTES} bytes",
                413,
            )
        return self.rfile.read(size)

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class ServiceServer(ThreadingHTTPServer):
    """A thread per connection; the service must be thread-safe."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: JsonService, log: Any = None) -> None:
        super().__init__(address, _Handler)
        self.service = service
        self.log = log
        self.errors = 0  # 500s answered and requests dropped by a bug (ours, not a client's)

    def handle_error(self, _request: Any, client_address: Any) -> None:
        """A client that hung up or timed out mid-request: one log line, not a traceback on
        stderr (socketserver's default)."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.errors += 1  # a bug of ours, not the client's doing
        if self.log is not None:
            self.log(f"{client_address[0]}: connection ended: {type(exc).__name__}: {exc}")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}"


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    return host in ("localhost", "::1") or host.startswith("127.")


def start_in_thread(server: ServiceServer) -> threading.Thread:
    """Serve in a background thread (tests, benchmarks); stop with ``server.shutdown()``."""
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), daemon=True, name="mrkcheck-serve"
    )
    thread.start()
    return thread
