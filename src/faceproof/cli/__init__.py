"""The command line: ``faceproof ...`` (click). Every command lives in this wing."""

from .main import main

__all__ = ["main"]
