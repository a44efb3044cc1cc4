"""A read-buffering wrapper around paho's socket.

paho reads every packet with at least three recv() calls (command byte, then
the remaining length one byte at a time, then the body). At tens of thousands
of small PUBLISH packets a second those syscalls are most of an ingest
worker's CPU. This wrapper reads up to 256 KiB per recv() and serves paho
from the buffer; `pending()` (which paho already consults for TLS sockets)
tells paho's loop that buffered bytes are ready, so it does not wait in
select() while whole packets sit in our buffer.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

READ_CHUNK = 256 * 1024


class BufferedSocket:
    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def recv(self, bufsize: int) -> bytes:
        if not self._buffer:
            # Raises BlockingIOError / SSLWantReadError exactly like the raw
            # socket when nothing is there; paho handles both.
            chunk = self._sock.recv(READ_CHUNK)
            if not chunk:
                return b""  # peer closed
            self._buffer += chunk
        data = bytes(self._buffer[:bufsize])
        del self._buffer[:bufsize]
        return data

    def pending(self) -> int:
        inner = self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0
        return len(self._buffer) + inner

    def __getattr__(self, name: str) -> Any:
        # send, fileno, close, setblocking, ...: the socket's own.
        return getattr(self._sock, name)
