"""Request line and header size limits, enforced while uvicorn parses.

uvicorn's httptools protocol buffers a request line and headers of any size
before the application sees them; this subclass counts them as they are
parsed and answers 414 (request line too long) or 431 (header fields too
large or too many), then closes the connection, before anything is handed
to the application. The limits are settings (`SMARTPOLE_API_MAX_*`), set
once per process by `configure`.

Relies on uvicorn's HttpToolsProtocol callbacks (on_message_begin, on_url,
on_header) and send_400_response; tests/api/test_abuse.py checks them on
every upgrade.
"""

from __future__ import annotations

from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "api.http_limits:LimitedHttpToolsProtocol"
# The scope key where a live stream (api.routes.stream) leaves its end function.
END_STREAM = "smartpole.end_stream"
_REASONS = {414: "URI Too Long", 431: "Request Header Fields Too Large"}


class _LimitExceededError(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_request_line_bytes: ClassVar[int] = 8 * 1024
    max_header_bytes: ClassVar[int] = 16 * 1024
    max_headers: ClassVar[int] = 100

    _refusal: int | None = None
    _url_bytes = 0
    _header_bytes = 0
    _header_count = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._refusal = None
        self._url_bytes = self._header_bytes = self._header_count = 0

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.max_request_line_bytes:
            self._refuse(414)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        self._header_count += 1
        if self._header_bytes > self.max_header_bytes or self._header_count > self.max_headers:
            self._refuse(431)
        super().on_header(name, value)

    def shutdown(self) -> None:
        # uvicorn waits for open responses before it stops; a live stream never
        # ends on its own, so it is told to end (api.routes.stream; its client
        # reconnects and resumes elsewhere or later).
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            end_stream = cycle.scope.get(END_STREAM)
            if callable(end_stream):
                end_stream()
        super().shutdown()

    def _refuse(self, status: int) -> None:
        self._refusal = status
        # Raised inside the parser's callback: httptools stops parsing and
        # uvicorn answers through send_400_response, which we turn into this.
        raise _LimitExceededError(status)

    def send_400_response(self, msg: str) -> None:
        status = self._refusal
        if status is None:
            super().send_400_response(msg)
            return
        body = f"{_REASONS[status]}\n".encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()


def configure(*, max_request_line_bytes: int, max_header_bytes: int, max_headers: int) -> None:
    LimitedHttpToolsProtocol.max_request_line_bytes = max_request_line_bytes
    LimitedHttpToolsProtocol.max_header_bytes = max_header_bytes
    LimitedHttpToolsProtocol.max_headers = max_headers
