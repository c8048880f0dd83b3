"""The HTTP service: ``clinrag serve`` (JSON API, OpenAI-compatible chat, web page).

``create_app(settings, config)`` builds a FastAPI app whose state (answerers, keys, limits,
audit log) lives on ``app.state``; nothing is held in module globals.
"""

from server.app import create_app
from server.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
