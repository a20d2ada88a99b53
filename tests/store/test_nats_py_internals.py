"""The nats-py internals store.kv.direct relies on, checked against the installed nats-py.

subscribe_direct swaps a subscription's private `_pending_queue` (an asyncio.Queue that
nats-py's parser fills with put_nowait) for an object that calls a handler at once: a
third of the cost of a scan or of collecting a migration's acks. A nats-py release may
rename or rework that queue; these tests then fail with what to do, rather than the
scans silently taking the slower callback path.
"""

from __future__ import annotations

import asyncio

import nats
import pytest

from store.kv.direct import _Direct, subscribe_direct

WHAT_TO_DO = (
    "nats-py changed Subscription._pending_queue, which store/kv/direct.py swaps for a direct "
    "call: read the new nats-py's Subscription and how its parser hands a message over, adapt "
    "subscribe_direct (or let it fall back to callback subscriptions and measure bench/bench_kv.py "
    "and bench/bench_migrate.py), and keep nats-py's upper bound in pyproject.toml until then")


async def test_a_plain_subscription_queues_messages_in_an_asyncio_queue(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.subscribe("internals.plain", pending_msgs_limit=-1, pending_bytes_limit=-1)
        assert isinstance(getattr(sub, "_pending_queue", None), asyncio.Queue), WHAT_TO_DO
        await nc.publish("internals.plain", b"x")
        msg = await sub.next_msg(timeout=2)  # the queue is where the parser puts messages
        assert msg.data == b"x", WHAT_TO_DO
    finally:
        await nc.close()


async def test_subscribe_direct_swaps_the_queue_and_handles_messages_as_they_are_parsed(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        got: list = []
        tasks: set = set()

        def on_msg(msg) -> None:
            got.append((msg.subject, msg.data))
            tasks.add(asyncio.current_task())

        sub = await subscribe_direct(nc, "internals.direct.>", on_msg)
        assert isinstance(sub._pending_queue, _Direct), WHAT_TO_DO
        for i in range(3):
            await nc.publish(f"internals.direct.{i}", str(i).encode())
        for _ in range(200):
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        assert got == [(f"internals.direct.{i}", str(i).encode()) for i in range(3)], WHAT_TO_DO
        # called by the client's reader as it parses, not by a task of the subscription
        assert tasks == {getattr(nc, "_reading_task", None)}, WHAT_TO_DO
    finally:
        await nc.close()


# -- store/kv/tls_client.py: TLS asked for is never downgraded -----------------------------

TLS_WHAT_TO_DO = (
    "nats-py changed how Client._process_connect_init calls _process_info (awaited with "
    "initial_connection=True after INFO, before the TLS upgrade and CONNECT), which "
    "store/kv/tls_client.py overrides so that no credential goes to a server that offers no "
    "TLS: read the new nats-py's connect sequence, move the refusal to where it now belongs "
    "(or use a release that refuses by itself), and keep nats-py's upper bound until then")


async def test_the_tls_client_refuses_a_plain_text_server_before_connect():
    from nats.errors import SecureConnWantedError

    from store.kv.tls_client import NoTlsOffered, TlsClient
    from tests.fake_nats import FakeNats

    with FakeNats("plain") as fake:
        errors: list[Exception] = []

        async def on_error(e: Exception) -> None:
            errors.append(e)

        client = TlsClient()
        with pytest.raises(SecureConnWantedError):
            await client.connect(fake.url.replace("nats://", "tls://"), user="u", password="Pw-secret",
                                 error_cb=on_error, allow_reconnect=False, connect_timeout=2)
        received = fake.received
    assert any(isinstance(e, NoTlsOffered) for e in errors), TLS_WHAT_TO_DO
    assert b"CONNECT" not in received and b"Pw-secret" not in received, TLS_WHAT_TO_DO


async def test_the_tls_client_upgrades_where_tls_is_only_offered(tmp_path):
    """A server with allow_non_tls says tls_available, not tls_required: nats-py alone would
    stay in plain text; the TLS client upgrades (the server then sees a TLS client)."""
    import ssl

    from store.kv.tls_client import TlsClient
    from tests.nats_auth import Certificates, start_node

    certs = Certificates(tmp_path / "certs")
    node = start_node(tmp_path, "optional-tls",
                      f'tls {{ cert_file: "{certs.server_cert}", key_file: "{certs.server_key}" }}\n'
                      "allow_non_tls: true\n")
    try:
        client = TlsClient()
        await client.connect(node.url, tls=ssl.create_default_context(cafile=certs.ca),
                             allow_reconnect=False, connect_timeout=2)
        try:
            assert client._server_info.get("tls_available"), "the server no longer offers optional TLS"
            assert client._transport is not None
            assert client._transport._io_writer.get_extra_info("ssl_object") is not None, TLS_WHAT_TO_DO
        finally:
            await client.close()
    finally:
        node.stop()
