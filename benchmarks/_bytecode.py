"""Bytecode as a user's installation has it, before a benchmark times whole processes.

``pip install`` compiles a package's modules to bytecode, and Python caches the bytecode of an
editable checkout at its first import. This machine sets ``PYTHONDONTWRITEBYTECODE``, so without
this step every timed ``orcatui`` process here would compile all of orcatui's modules from
source again (some 40 ms of CPU), which no user's second run does.
"""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_tree(tree: Path) -> None:
    """Write the bytecode of ``tree``'s packages (``orcatui``, ``observers``), as pip does."""
    for package in ("orcatui", "observers"):
        where = tree / package
        if where.is_dir():
            compileall.compile_dir(str(where), quiet=1)
