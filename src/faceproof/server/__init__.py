"""faceproof as an HTTP service (``pip install 'faceproof[server]'``, ``faceproof serve``).

>>> from faceproof.server import ServiceSettings, create_app
>>> app = create_app(ServiceSettings(max_queue=8))   # doctest: +SKIP

Nothing is imported eagerly: ``faceproof.cli.serve`` (the ``serve`` command) loads
without FastAPI installed and says which extra to install. No model loads before the
app's lifespan starts. See ``docs/service.md`` for the API, the limits and the settings.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServiceSettings", "app_from_env", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "ServiceSettings":
        from .settings import ServiceSettings

        return ServiceSettings
    if name in ("create_app", "app_from_env"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
