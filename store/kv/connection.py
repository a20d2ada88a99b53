"""One NATS connection of the KV backend, and the JetStream requests made on it.

Connecting and every request are bounded by the operation timeout (SPEC section 2), and
every nats-py error is mapped here to a store error: NotFound, Conflict, Unavailable,
InvalidInput for the operator's own bad files, Refused for what the NATS user may not do.
Also the JetStream names of a KV bucket: its stream `KV_<bucket>` and its subjects
`$KV.<bucket>.<key>`.

A permissions violation comes from the server on the connection, apart from the request
that caused it (nats-py hands it to the error callback, and the request itself would wait
out its timeout): Refusals routes it to the operation waiting on that subject, which then
fails at once with Refused naming what was refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors

from .. import operator_files
from ..aio import settle, stop
from ..errors import Conflict, InvalidInput, NotFound, Refused, StoreError, TlsRefused, Unavailable
from ..spec import NatsSpec, redact_url, split_userinfo
from .tls_client import NoTlsOffered, TlsClient, wants_tls

T = TypeVar("T")

_NOT_FOUND_CODES = (10059,)  # stream not found
_WRONG_LAST = 10071  # wrong last sequence


def stream_name(bucket: str) -> str:
    """The stream behind a bucket (its full name, prefix included)."""
    return "KV_" + bucket


def subject_prefix(bucket: str) -> str:
    """The subjects of a bucket's keys are this prefix and the key."""
    return f"$KV.{bucket}."


_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "([^"]*)"', re.IGNORECASE)


class Refusals:
    """The operations in flight, by the subjects they publish or subscribe to, and the
    permission violations the server reports for those subjects.

    nats-py reports a violation lower-cased; subjects are matched without case and named
    as the operation wrote them."""

    def __init__(self) -> None:
        #: lower-cased subject -> {waiting future: the subject as written}
        self._waiting: dict[str, dict[asyncio.Future[Refused], str]] = {}
        #: (lower-cased subject prefix, the prefix as written, callback): a pipelined
        #: writer's many subjects
        self._prefixes: list[tuple[str, str, Callable[[Refused], None]]] = []

    def on_prefix(self, prefix: str, callback: Callable[[Refused], None]) -> Callable[[], None]:
        """Call callback(Refused) for a violation on any subject under prefix; returns the
        function that stops it."""
        entry = (prefix.lower(), prefix, callback)
        self._prefixes.append(entry)
        return lambda: self._prefixes.remove(entry) if entry in self._prefixes else None

    def watch(self, subjects: Iterable[str]) -> asyncio.Future[Refused]:
        """A future set to Refused when a violation for one of the subjects comes."""
        fut: asyncio.Future[Refused] = asyncio.get_running_loop().create_future()
        for subject in subjects:
            self._waiting.setdefault(subject.lower(), {})[fut] = subject
        return fut

    def unwatch(self, fut: asyncio.Future[Refused], subjects: Iterable[str]) -> None:
        for subject in subjects:
            waiting = self._waiting.get(subject.lower())
            if waiting is not None:
                waiting.pop(fut, None)
                if not waiting:
                    del self._waiting[subject.lower()]

    def report(self, message: str) -> bool:
        """Route a server error line; True when it was a permissions violation."""
        m = _VIOLATION.search(message)
        if not m:
            return False
        what = "publish to" if m.group(1).lower() == "publish" else "subscribe to"

        def refused(subject: str) -> Refused:
            return Refused(f"the NATS user may not {what} {subject} (permissions violation)")

        subject = m.group(2).lower()
        for fut, written in self._waiting.get(subject, {}).items():
            if not fut.done():
                fut.set_result(refused(written))
        for lowered, written_prefix, callback in list(self._prefixes):
            if subject.startswith(lowered):
                callback(refused(written_prefix + m.group(2)[len(lowered):]))
        return True


class Connection:
    """The client, its JetStream context, and API requests bounded by the operation timeout."""

    def __init__(self, nc: Any, timeout: float, refusals: Refusals | None = None) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout
        self.refusals = refusals or Refusals()

    async def guarded(self, aw: Awaitable[T], subjects: Iterable[str], timeout: float | None = None) -> T:
        """aw within the timeout; Refused as soon as the server refuses one of its subjects
        (the operation is then cancelled: its write was not made)."""
        subjects = list(subjects)
        task = asyncio.ensure_future(aw)
        refusal = self.refusals.watch(subjects)
        waiting: set[asyncio.Future[Any]] = {task, refusal}
        try:
            done, _ = await asyncio.wait(waiting, timeout=self.timeout if timeout is None else timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                return task.result()
            if refusal in done:
                raise refusal.result()
            raise TimeoutError
        finally:
            self.refusals.unwatch(refusal, subjects)
            refusal.cancel()
            await stop(task)

    async def bounded(self, aw: Awaitable[T], what: str, subjects: Iterable[str] = ()) -> T:
        """Run one nats-py KV operation within the timeout, its errors mapped to store errors;
        subjects: what it publishes to, so that a permissions violation fails it at once."""
        try:
            return await self.guarded(aw, subjects)
        except Refused as e:
            raise Refused(f"{what}: {e}") from None
        except StoreError:
            raise
        except (TimeoutError, nats.errors.TimeoutError):
            raise Unavailable(f"{what}: no answer within {self.timeout:g}s") from None
        except nats.js.errors.KeyWrongLastSequenceError:
            raise Conflict(f"{what}: changed meanwhile") from None
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.NotFoundError,
                nats.js.errors.NoKeysError):
            raise NotFound(f"{what}: not found") from None
        except nats.js.errors.APIError as e:
            if e.err_code == _WRONG_LAST:
                raise Conflict(f"{what}: changed meanwhile") from None
            raise Unavailable(f"{what}: {e.description or e}") from None
        except nats.errors.NoRespondersError:
            raise Unavailable(f"{what}: no JetStream responders (no quorum?)") from None
        except (nats.errors.Error, OSError) as e:
            raise Unavailable(f"{what}: {type(e).__name__} {e}".rstrip()) from None

    async def request(self, subject: str, payload: Any = None, timeout: float | None = None) -> dict:
        """One JetStream API request; returns the JSON answer or raises a store error."""
        data = b"" if payload is None else json.dumps(payload).encode()
        t = self.timeout if timeout is None else timeout
        try:
            msg = await self.guarded(self.nc.request(subject, data, timeout=t), [subject], t + 0.05)
        except Refused as e:
            raise Refused(f"{subject}: {e}") from None
        except (TimeoutError, nats.errors.TimeoutError):
            raise Unavailable(f"{subject}: no answer within {t:g}s") from None
        except nats.errors.NoRespondersError:
            raise Unavailable(f"{subject}: no JetStream responders (no quorum?)") from None
        except (nats.errors.Error, OSError) as e:
            raise Unavailable(f"{subject}: {type(e).__name__} {e}".rstrip()) from None
        try:
            resp = json.loads(msg.data)
        except ValueError:
            raise Unavailable(f"{subject}: unreadable answer") from None
        err = resp.get("error")
        if err:
            code = err.get("err_code")
            text = err.get("description", "error")
            if code in _NOT_FOUND_CODES or err.get("code") == 404:
                raise NotFound(text)
            raise Unavailable(f"{text} (code {code})")
        return resp

    async def read(self, subject: str, payload: Any = None) -> dict:
        """A read-only API request, retried within the timeout: a request written to a
        connection that just died is lost, and the retry goes out after the reconnect.
        (Refused is not retried: it is an answer.)"""
        deadline = time.monotonic() + self.timeout
        attempt = max(0.25, self.timeout / 2)
        while True:
            left = deadline - time.monotonic()
            try:
                return await self.request(subject, payload, timeout=min(attempt, max(left, 0.01)))
            except Unavailable:
                if deadline - time.monotonic() < 0.05:
                    raise
                await asyncio.sleep(0.02)

    async def stream_info(self, bucket: str) -> dict | None:
        """The bucket's stream info from the stream leader, None when it does not exist."""
        try:
            return await self.read(f"$JS.API.STREAM.INFO.{stream_name(bucket)}")
        except NotFound:
            return None

    async def close(self) -> None:
        """Close the client within the timeout; never fails."""
        try:
            await asyncio.wait_for(self.nc.close(), self.timeout)
        except BaseException:
            pass


async def connect(spec: NatsSpec, refusals: Refusals | None = None) -> Any:
    """Connect within op_timeout, or raise Unavailable with the reason in one line (never a
    secret: the URL is shown without its user info). InvalidInput for the operator's own
    files that cannot be used (CA, client certificate, creds, nkey seed).

    Once TLS is asked for (a tls:// URL, a CA, a client certificate) the connection is TLS
    before any credential is sent, or it is refused: Unavailable naming TLS, at once.

    After the first connection the client reconnects forever (nodes come back);
    each operation is bounded on its own. Permission violations go to refusals.
    """
    last_error: list[str] = []
    # the server refused the credentials: nats-py would retry them forever, so the first
    # "Authorization Violation" ends the attempt (exit 4, not a wait for the timeout)
    denied: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    # a server that offers no TLS when TLS was asked for: no retry can make that safe
    no_tls: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    hidden = secrets_of(spec)

    async def on_error(e: Exception) -> None:
        text = _describe(e, hidden)
        if isinstance(e, NoTlsOffered):
            if not no_tls.done():
                no_tls.set_result(text)
            return
        if refusals is not None and refusals.report(text):
            return  # routed to the operation it refused
        if "authorization violation" in text.lower() and not denied.done():
            denied.set_result(text)
        last_error.append(text)

    async def quiet(*_: Any) -> None:
        return None

    operator_files.check_files(spec)
    opts: dict[str, Any] = dict(
        servers=spec.servers, error_cb=on_error, disconnected_cb=quiet, reconnected_cb=quiet,
        closed_cb=quiet, connect_timeout=max(0.2, spec.op_timeout / 2),
        reconnect_time_wait=0.25, max_reconnect_attempts=-1, allow_reconnect=True,
        name="membership-admin", tls=_tls(spec),
    )
    if spec.creds:
        opts["user_credentials"] = spec.creds
    if spec.nkey:
        opts["nkeys_seed"] = spec.nkey
    if spec.user:
        opts["user"] = spec.user
        opts["password"] = spec.password or ""
    if spec.token:
        opts["token"] = spec.token
    if not spec.servers:
        raise Unavailable("no NATS server URL given")
    client = TlsClient() if wants_tls(spec.servers, spec.ca, spec.cert) else nats.NATS()
    task = asyncio.ensure_future(_connected(client, opts))
    try:
        racing: set[asyncio.Future[Any]] = {task, denied, no_tls}
        await asyncio.wait(racing, timeout=spec.op_timeout, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # the caller gave up: a connection that opens now must not live on unseen
        await settle(_abandon(task))
        raise
    if not task.done():
        await settle(_abandon(task))
        if no_tls.done():
            raise TlsRefused(f"cannot connect to {spec.shown_url}: TLS was asked for and {no_tls.result()} "
                              "(a plain-text server, or something between us and it): no credentials were sent")
        if denied.done():
            raise Refused(f"{spec.shown_url} refused the credentials of {_who(spec)} "
                          "(authorization violation)")
        why = f": {last_error[-1]}" if last_error else ""
        raise Unavailable(f"cannot connect to {spec.shown_url} within {spec.op_timeout:g}s{why}")
    error = task.exception()
    if error is not None:
        why = last_error[-1] if last_error else _describe(error, hidden)
        raise Unavailable(f"cannot connect to {spec.shown_url}: {why}")
    return task.result()


async def _connected(client: Any, opts: dict[str, Any]) -> Any:
    await client.connect(**opts)
    return client


def _who(spec: NatsSpec) -> str:
    """Which credentials were given, named without their secret."""
    if spec.creds:
        return f"creds file {spec.creds}"
    if spec.nkey:
        return f"nkey seed file {spec.nkey}"
    if spec.nats_user:
        return f"user {spec.nats_user}"
    if spec.token or "@" in spec.url:
        return "the token"
    return "no user (anonymous)"


def _tls(spec: NatsSpec) -> ssl.SSLContext | None:
    """A TLS context for a CA and/or a client certificate; None when neither is given (a
    tls:// URL then uses the system's CAs, as nats-py does)."""
    if not spec.ca and not spec.cert:
        return None
    try:
        # the CA's text, read by check_files from a regular file: ssl would open a FIFO and wait
        tls = (ssl.create_default_context(cadata=operator_files.check_ca(spec.ca)) if spec.ca
               else ssl.create_default_context())
    except (OSError, ssl.SSLError) as e:
        # a missing or unreadable CA file is the operator's input, not the backend
        raise InvalidInput(f"cannot use CA file {spec.ca}: {_describe(e)}") from None
    if spec.cert and spec.key:
        try:
            tls.load_cert_chain(spec.cert, spec.key)
        except (OSError, ssl.SSLError) as e:
            raise InvalidInput(f"cannot use client certificate {spec.cert} with key {spec.key}: "
                               f"{_describe(e)}") from None
    return tls


async def _abandon(task: asyncio.Future) -> None:
    """Stop a connect attempt; close the client if it connected meanwhile."""
    # Cancelled again until it stops: nats-py's connect retries forever, and Python 3.11's
    # asyncio.wait_for (its connect timeout) loses a cancellation that races the inner
    # result, a refused connection (measured: 1 connect in 20 to a closed port never ended)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    if task.cancelled() or task.exception() is not None:
        return  # it failed or was stopped: nothing to close
    nc = task.result()
    try:
        await nc.close()
    except Exception:
        pass


def secrets_of(spec: NatsSpec) -> list[str]:
    """The secrets of these settings: the password, the token and each URL's (a password
    after the user's name, or a whole user info that is a token)."""
    found = [spec.password or "", spec.token or ""]
    for server in spec.servers:
        parts = split_userinfo(server)
        info = parts[1] if parts is not None else server.rpartition("@")[0]
        if info:
            found.append(info.split(":", 1)[1] if ":" in info else info)
    # longest first, so that a secret inside another is not left half shown; a very short
    # one is not hunted for (it would turn every message into stars and hide nothing)
    return sorted({f for f in found if len(f) >= _HIDDEN_MIN}, key=len, reverse=True)


_HIDDEN_MIN = 4


def _describe(e: BaseException, hidden: Iterable[str] = ()) -> str:
    """One line about a connection error; any URL in it without its user info, and none of
    the hidden secrets (a library's message may quote a URL however it parsed it)."""
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({e.verify_message})"
    text = str(e).strip() or type(e).__name__
    line = text.splitlines()[0]
    for secret in hidden:
        line = line.replace(secret, "***")
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), line)


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
