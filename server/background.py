"""Run an app with uvicorn in a background thread on a free loopback port (tests, benches)."""

from __future__ import annotations

import threading
import time

import uvicorn


class BackgroundServer:
    """``with BackgroundServer(app) as server: httpx.get(server.url + "/healthz")``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, **options):
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                lifespan="on", **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="clinrag-uvicorn",
                                        daemon=True)
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 600  # start-up includes loading the models
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server failed to start (see the log)")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start within 600 s")
            time.sleep(0.02)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
