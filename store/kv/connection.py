"""One NATS connection of the KV backend, and the JetStream requests made on it.

Connecting and every request are bounded by the operation timeout (SPEC section 2), and
every nats-py error is mapped here to a store error: NotFound, Conflict, Unavailable,
InvalidInput for the operator's own bad files. Also the JetStream names of a KV bucket:
its stream `KV_<bucket>` and its subjects `$KV.<bucket>.<key>`.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors

from ..aio import settle
from ..errors import Conflict, InvalidInput, NotFound, StoreError, Unavailable
from ..spec import NatsSpec

T = TypeVar("T")

_NOT_FOUND_CODES = (10059,)  # stream not found
_WRONG_LAST = 10071  # wrong last sequence


def stream_name(bucket: str) -> str:
    """The stream behind a bucket (its full name, prefix included)."""
    return "KV_" + bucket


def subject_prefix(bucket: str) -> str:
    """The subjects of a bucket's keys are this prefix and the key."""
    return f"$KV.{bucket}."


class Connection:
    """The client, its JetStream context, and API requests bounded by the operation timeout."""

    def __init__(self, nc: Any, timeout: float) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout

    async def bounded(self, aw: Awaitable[T], what: str) -> T:
        """Run one nats-py KV operation within the timeout, its errors mapped to store errors."""
        try:
            return await asyncio.wait_for(aw, self.timeout)
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
            msg = await self.nc.request(subject, data, timeout=t)
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
        connection that just died is lost, and the retry goes out after the reconnect."""
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


async def connect(spec: NatsSpec) -> Any:
    """Connect within op_timeout, or raise Unavailable with the reason in one line.

    After the first connection the client reconnects forever (nodes come back);
    each operation is bounded on its own.
    """
    last_error: list[str] = []

    async def on_error(e: Exception) -> None:
        last_error.append(_describe(e))

    async def quiet(*_: Any) -> None:
        return None

    tls = None
    if spec.ca:
        try:
            tls = ssl.create_default_context(cafile=spec.ca)
        except (OSError, ssl.SSLError) as e:
            # a missing or unreadable CA file is the operator's input, not the backend
            raise InvalidInput(f"cannot use CA file {spec.ca}: {_describe(e)}") from None
    opts: dict[str, Any] = dict(
        servers=spec.servers, error_cb=on_error, disconnected_cb=quiet, reconnected_cb=quiet,
        closed_cb=quiet, connect_timeout=max(0.2, spec.op_timeout / 2),
        reconnect_time_wait=0.25, max_reconnect_attempts=-1, allow_reconnect=True,
        name="membership-admin", tls=tls,
    )
    if spec.creds:
        if not os.path.isfile(spec.creds):
            raise InvalidInput(f"cannot use credentials file {spec.creds}: no such file")
        opts["user_credentials"] = spec.creds
    if spec.user:
        opts["user"] = spec.user
        opts["password"] = spec.password or ""
    if spec.token:
        opts["token"] = spec.token
    if not spec.servers:
        raise Unavailable("no NATS server URL given")
    task = asyncio.ensure_future(nats.connect(**opts))
    try:
        nc = await asyncio.wait_for(asyncio.shield(task), spec.op_timeout)
    except TimeoutError:
        await settle(_abandon(task))
        why = f": {last_error[-1]}" if last_error else ""
        raise Unavailable(f"cannot connect to {spec.url} within {spec.op_timeout:g}s{why}") from None
    except asyncio.CancelledError:
        # the caller gave up: a connection that opens now must not live on unseen
        await settle(_abandon(task))
        raise
    except Exception as e:
        why = last_error[-1] if last_error else _describe(e)
        raise Unavailable(f"cannot connect to {spec.url}: {why}") from None
    return nc


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


def _describe(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({e.verify_message})"
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
