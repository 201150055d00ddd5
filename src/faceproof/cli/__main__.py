"""``python -m faceproof.cli``: the same as the ``faceproof`` command."""

from .main import main

main()
