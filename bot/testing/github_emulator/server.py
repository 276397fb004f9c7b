"""HTTP plumbing: a stdlib ThreadingHTTPServer on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bot.testing.github_emulator.dispatch import Dispatcher


def _handler_class(dispatcher: Dispatcher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, as clients (requests/urllib3 pools) expect from GitHub.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle's algorithm on, every response
        # waits ~40 ms for the client's delayed ACK.
        disable_nagle_algorithm = True
        server_version = "GitHub.com"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            result = dispatcher.handle(self.command, self.path, headers, body)
            if result.drop:
                self.close_connection = True
                return
            try:
                self.send_response(result.status)
                for name, value in result.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(result.body)))
                self.end_headers()
                if result.body and self.command != "HEAD":
                    self.wfile.write(result.body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (e.g. its timeout fired during an injected delay).
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server naming

        def log_message(self, format: str, *args: object) -> None:
            """Silence per-request stderr logging; `GitHubEmulator.requests` is the log."""

    return Handler


class BackgroundServer:
    def __init__(self, dispatcher: Dispatcher, host: str = "127.0.0.1", port: int = 0) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(dispatcher))
        self._httpd.daemon_threads = True
        # A short poll interval keeps stop() fast (shutdown() waits for the serve loop to notice).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="github-emulator",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
