"""``faceproof challenge --secret-file F``: a signed, single-use challenge for the next
selfie (docs/authenticity.md), and the secret and store options of ``check-profile``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InvalidArgument
from .main import echo_json, guarded


def read_secret(path: str) -> bytes:
    """The challenge secret from a file (surrounding whitespace and newlines stripped)."""
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise InvalidArgument(f"cannot read the challenge secret file {path}: {exc.strerror}") from None
    from ..authenticity.challenge import MIN_SECRET_BYTES

    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidArgument(f"the challenge secret in {path} must be at least {MIN_SECRET_BYTES} bytes")
    return secret


@click.command(name="challenge")
@click.option("--secret-file", required=True, help="File holding the server's challenge secret (>= 32 bytes).")
@click.option(
    "--instruction",
    default=None,
    type=click.Choice(["look_straight", "turn_left", "turn_right", "tilt_left", "tilt_right"]),
    help="The pose asked for (default: drawn at random among the turns and tilts).",
)
@click.option("--ttl", type=float, default=120.0, show_default=True, help="Seconds the challenge stays valid.")
@guarded
def challenge_cmd(secret_file: str, instruction: str | None, ttl: float) -> None:
    """Print a new challenge as JSON: token, instruction, issued_at, expires_at."""
    from ..authenticity import new_challenge

    echo_json(new_challenge(read_secret(secret_file), instruction, ttl).to_dict())
