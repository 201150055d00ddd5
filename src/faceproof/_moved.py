"""Deprecated module paths: modules that moved into the wings keep answering at their old
names (``import faceproof.io`` gives :mod:`faceproof.runtime.io`, with a
``DeprecationWarning``). The old name is bound to the *same* module object, so classes,
functions and monkeypatches are shared. Installed by ``faceproof/__init__.py``; it imports
nothing until an old name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

#: old module name -> new module name (since 0.2)
MOVED: dict[str, str] = {
    "faceproof._cv": "faceproof.runtime._cv",
    "faceproof.io": "faceproof.runtime.io",
    "faceproof.models": "faceproof.runtime.models",
    "faceproof.registry": "faceproof.runtime.registry",
    "faceproof.detect": "faceproof.runtime.detect",
    "faceproof.align": "faceproof.runtime.align",
    "faceproof.embed": "faceproof.runtime.embed",
    "faceproof.compare": "faceproof.runtime.compare",
    "faceproof.attributes": "faceproof.runtime.attributes",
    "faceproof.quality": "faceproof.decision.quality",
    "faceproof.policy": "faceproof.decision.policy",
    "faceproof.profile": "faceproof.decision.profile",
    "faceproof.evaluate": "faceproof.evaluation",
    "faceproof.evaluate_attributes": "faceproof.evaluation.attributes",
    "faceproof.calibrate": "faceproof.evaluation.calibrate",
    "faceproof.cli_eval": "faceproof.cli.evaluation",
    "faceproof.cli_profile": "faceproof.cli.profile",
    "faceproof.attributes_cli": "faceproof.cli.attributes",
    "faceproof.server.cli": "faceproof.cli.serve",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        warnings.warn(
            f"{name} moved to {self.target}; import it from there (the old name will be removed)",
            DeprecationWarning,
            stacklevel=2,
        )
        # the import system returns whatever sys.modules holds for the name after loading
        sys.modules[name] = importlib.import_module(self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
