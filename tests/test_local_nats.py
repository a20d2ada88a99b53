"""Local nats-server processes (store/dev/local_nats.py) in a machine shared with other tests:
a port picked as free may be taken before the server binds it (a parallel worker's server, a
client's outgoing connection). The start must notice, not take the other listener for its own."""

from __future__ import annotations

import socket

import pytest

from store.dev.local_nats import AddressInUse, LocalNats, NatsNode, find_nats_server, wait_jetstream
from tests.helpers import run_sync


def held(port: int) -> socket.socket:
    """A listener of someone else on port."""
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def test_a_taken_port_is_address_in_use_not_someone_elses_server(tmp_path):
    node = NatsNode("n1", 0, tmp_path / "n1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        node.port = probe.getsockname()[1]
        probe.listen()  # a listener answers connects on the port: it is not the server's
        with pytest.raises(AddressInUse):
            node.start(find_nats_server())
    assert not node.running


def test_a_cluster_whose_port_was_taken_starts_on_other_ports(tmp_path):
    cluster = LocalNats(tmp_path / "nats", size=3)
    taken = cluster.nodes[1].port
    with held(taken):
        cluster.start()
        try:
            assert taken not in [n.port for n in cluster.nodes]
            assert all(n.running for n in cluster.nodes)
            run_sync(wait_jetstream(cluster.url))  # one cluster: the routes name the new ports
        finally:
            cluster.stop()
