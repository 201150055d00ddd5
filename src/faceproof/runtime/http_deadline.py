"""One deadline for a whole HTTP fetch (connect, TLS, request, headers and body).

httpx's timeouts apply to each network operation: a server that sends its response one
byte at a time, each within the read timeout, holds a fetch for as long as it likes.
:func:`deadline_transport` gives httpx a transport whose every connect, read, write and
TLS handshake may take only the time left before one deadline, so the fetch (and the
thread running it) ends by then. Used by :func:`faceproof.runtime.io.fetch_url`.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["DeadlineBackend", "DeadlineStream", "deadline_transport"]


class DeadlineStream:
    """An httpcore network stream whose every read and write (and TLS handshake) may take
    only the time left before one deadline: a server that trickles its headers or body a
    byte at a time cannot stretch the fetch past it (httpx's timeouts are per operation)."""

    def __init__(self, inner: Any, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None, error: str) -> float:
        import httpcore

        left = self._deadline - time.monotonic()
        if left <= 0:
            raise getattr(httpcore, error)("the URL fetch deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, self._left(timeout, "ReadTimeout"))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, "WriteTimeout"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._left(timeout, "ConnectTimeout"))
        return DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend:
    """httpcore's synchronous network backend, with every connection a :class:`DeadlineStream`."""

    def __init__(self, deadline: float) -> None:
        import httpcore

        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> DeadlineStream:
        left = DeadlineStream(None, self._deadline)._left(timeout, "ConnectTimeout")
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise NotImplementedError("faceproof fetches images over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self._deadline - time.monotonic())))


def deadline_transport(deadline: float) -> Any:
    """An httpx transport whose connections all end by ``deadline`` (time.monotonic())."""
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public way to pass a network backend; its transport holds one httpcore
    # pool, replaced here by the same pool over the deadline backend (a test covers it)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=DeadlineBackend(deadline),  # type: ignore[arg-type]
    )
    return transport
