"""``faceproof serve``: run the HTTP service with uvicorn.

Flags override ``FACEPROOF_*`` environment variables, which override the defaults. API
keys are taken from ``FACEPROOF_API_KEYS`` or a file (``--api-keys-file``), never from
the command line (where other users could read them in the process list).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from ..errors import BackendUnavailable
from .main import guarded

__all__ = ["serve"]


def _csv(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    from ..server.parsing import parse_csv

    return parse_csv(value)


@click.command(name="serve")
@click.option("--host", default=None, help="Address to bind [default: 127.0.0.1; 0.0.0.0 to expose].")
@click.option("--port", type=int, default=None, help="Port [default: 8000].")
@click.option("--workers", type=int, default=None, help="Server processes, each with its own models [default: 1].")
@click.option("--threads", type=int, default=None, help="Inference workers per process [default: cores / processes].")
@click.option("--max-queue", type=int, default=None, help="Requests that may wait for a worker; past it 503 [16].")
@click.option("--request-timeout", type=float, default=None, help="Seconds per request, body included [30].")
@click.option("--max-body-bytes", type=int, default=None, help="Largest request body [31457280].")
@click.option("--max-image-bytes", type=int, default=None, help="Largest encoded image [10485760].")
@click.option("--max-image-pixels", type=int, default=None, help="Largest decoded image, in pixels [40000000].")
@click.option("--max-faces", type=int, default=None, help="Faces used per image (the largest) [20].")
@click.option("--max-photos", type=int, default=None, help="Profile photos per /v1/check-profile request [10].")
@click.option("--policy", default=None, help="JSON file overriding the check-profile policy (data/policy.json).")
@click.option("--detector", default=None, help="yunet (default), dlib or yunet+dlib.")
@click.option("--models", default=None, help="Recognition models to serve, comma-separated; the first is the default.")
@click.option("--metric", default=None, help="Default metric: cosine, euclidean, euclidean_l2.")
@click.option("--attributes", default=None, help="gender,age (default); an empty string switches them off.")
@click.option("--lang", type=click.Choice(["ko", "en"]), default=None, help="Default message language [ko].")
@click.option("--flip/--no-flip", default=None, help="Mirrored-face test-time augmentation [the library's default].")
@click.option(
    "--precision",
    type=click.Choice(["f32", "bf16"]),
    default=None,
    help="SFace's arithmetic: f32 (calibrated) or bf16 (cheaper; docs/performance.md) [f32].",
)
@click.option(
    "--allow-request-threshold/--no-allow-request-threshold",
    default=None,
    help="Accept a per-request threshold (it moves the trust decision) [off].",
)
@click.option("--url-fetch/--no-url-fetch", default=None, help="Accept http(s) image URLs in JSON [off].")
@click.option("--url-allowed-hosts", default=None, help="Hosts or networks exempt from the private-address guard.")
@click.option("--api-keys-file", type=click.Path(dir_okay=False), default=None, help="File with one API key per line.")
@click.option("--rate-limit", type=float, default=None, help="Requests per minute per API key; 0 = off [0].")
@click.option("--cors-origins", default=None, help="Origins allowed by CORS, comma-separated [none: CORS off].")
@click.option("--docs/--no-docs", default=None, help="Serve the OpenAPI document and /docs [on].")
@click.option(
    "--docs-public/--no-docs-public", default=None, help="Serve the docs without an API key when keys are on [off]."
)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default=None)
@guarded
def serve(**flags: Any) -> None:
    """Serve faceproof over HTTP (FastAPI + uvicorn): /v1/verify, /v1/check-profile,
    /v1/distinguish, /v1/faces, /v1/models, /healthz, /readyz, and the OpenAPI docs at /docs."""
    try:
        import uvicorn
    except ImportError:
        raise BackendUnavailable("the HTTP service needs its extra: pip install 'faceproof[server]'") from None
    from ..server.app import create_app
    from ..server.settings import ServiceSettings

    keys_file = flags.pop("api_keys_file")
    for name in ("models", "attributes", "url_allowed_hosts", "cors_origins"):
        flags[name] = _csv(flags[name])
    environ = dict(os.environ)
    if keys_file is not None:
        environ["FACEPROOF_API_KEYS_FILE"] = keys_file
    settings = ServiceSettings.from_env(environ, **flags)
    create_app(settings)  # checks backend names and options now, before any process starts
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(settings.log_level.upper())
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # faceproof logs its own access line, without query strings
        "server_header": False,
        "proxy_headers": False,
        "log_config": None,
    }
    try:  # bounded request headers and the JSON envelope on protocol errors (server/protocol.py)
        from ..server.protocol import BoundedHttpToolsProtocol

        common["http"] = BoundedHttpToolsProtocol
    except ImportError:  # no httptools: h11 bounds the header section by its own setting
        common["http"] = "h11"
        common["h11_max_incomplete_event_size"] = settings.max_headers_total_bytes
    click.echo(f"faceproof serve: http://{settings.host}:{settings.port} (docs at /docs)", err=True)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
    else:
        # worker processes rebuild the settings from the environment
        os.environ.update(settings.to_env())
        os.environ.pop("FACEPROOF_API_KEYS_FILE", None)
        uvicorn.run("faceproof.server.app:app_from_env", factory=True, workers=settings.workers, **common)
