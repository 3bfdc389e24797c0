"""`parley serve --wyoming tcp://HOST:PORT`: the Wyoming listener beside the HTTP server, on
the same Runtime (models, store, tools), so Home Assistant and the page share one Parley.

Wyoming has no credentials. The listener binds loopback unless told otherwise (`--expose`, as
for HTTP), admits only ``wyoming.allowed_clients`` when that is set, and serves at most
``wyoming.max_clients`` at once: the one over the limit is told so and closed, and nobody
already connected notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket

from wyoming.error import Error
from wyoming.event import async_write_event

from parley.config.service_sections import WyomingConfig, host_port
from parley.ops.metrics import ServerMetrics
from parley.pipeline.runtime import Runtime
from parley.server.wyoming.agent import Agent
from parley.server.wyoming.connection import WyomingConnection

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."


class WyomingService:
    def __init__(self, runtime: Runtime, metrics: ServerMetrics, config: WyomingConfig) -> None:
        assert config.uri is not None
        self._runtime = runtime
        self._metrics = metrics
        self._config = config
        self._host, self._port = host_port(config.uri)
        self._allowed = [
            ipaddress.ip_network(entry, strict=False) for entry in config.allowed_clients
        ]
        self._agent = Agent(runtime, metrics)
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._announcer: object | None = None

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one the OS chose for port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        # The reader's limit bounds a header line as wyoming.max_event_bytes bounds the rest.
        self._server = await asyncio.start_server(
            self._accept, self._host, self._port, limit=self._config.max_event_bytes
        )
        log.info("Wyoming (Home Assistant) on tcp://%s:%d", self._host, self.port)
        if self._config.is_announcing:
            self._announcer = await _announce(self._host, self.port)

    async def close(self) -> None:
        if self._announcer is not None:
            with contextlib.suppress(Exception):
                await self._announcer.async_close()  # type: ignore[attr-defined]
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        for task in list(self._clients):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        if not self._is_allowed(address):
            log.warning("Wyoming: %s is not in wyoming.allowed_clients; closed", address)
            await self._refuse(writer, "not_allowed", "This address may not use Parley.")
            return
        if len(self._clients) >= self._config.max_clients:
            await self._refuse(
                writer,
                "busy",
                f"Parley is serving {self._config.max_clients} Wyoming clients "
                "(wyoming.max_clients); try again shortly.",
            )
            return
        connection = WyomingConnection(
            reader, writer, runtime=self._runtime, agent=self._agent, metrics=self._metrics
        )
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        self._metrics.wyoming_clients.inc()
        try:
            await connection.serve()
        except Exception:
            log.exception("a Wyoming connection failed; the others go on")
        finally:
            self._metrics.wyoming_clients.dec()
            self._clients.discard(task)

    def _is_allowed(self, address: str | None) -> bool:
        if not self._allowed:
            return True
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        return any(ip in network for network in self._allowed)

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, code: str, text: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(async_write_event(Error(text, code).event(), writer), 2.0)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _announce(host: str, port: int) -> object:
    """Announce the service over mDNS as Home Assistant looks for it (``_wyoming._tcp``)."""
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    address = host
    if host in ("0.0.0.0", "::", ""):
        # The address other machines reach: the one a packet to the mDNS group leaves from.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("224.0.0.251", 5353))
            address = probe.getsockname()[0]
        finally:
            probe.close()
    address = socket.gethostbyname(address)
    if ipaddress.ip_address(address).is_loopback:
        log.warning("Wyoming is announced on %s, which only this machine can reach", address)
    name = f"Parley on {socket.gethostname()}"
    zeroconf = AsyncZeroconf()
    await zeroconf.async_register_service(
        AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(address)],
            port=port,
            server=f"{socket.gethostname()}.local.",
        )
    )
    log.info("Wyoming announced over Zeroconf as %r at %s:%d", name, address, port)
    return zeroconf
