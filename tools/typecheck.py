"""Type-check the package as setuptools installs it: ``python -m tools.typecheck`` (CI runs this).

pyproject.toml installs ``model/`` as ``mrkcheck.model`` (and ``properties/``, ``traces/`` alike),
so from a checkout ``mypy -p mrkcheck`` cannot find those packages, and on an editable install
mypy cannot follow setuptools' import hook either. This tool lays out the installed package as
symlinks under ``build/typecheck/`` (from pyproject's ``packages`` and ``package-dir``, so the
two cannot drift apart), runs mypy on it with the ``[tool.mypy]`` settings, and prints the
checkout's paths (``model/kms.py``) rather than the tree's, so that an error points at the file
to edit. The exit status is mypy's: 0 clean, 1 type errors, 2 a usage error.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def package_folders(pyproject: dict) -> dict[str, Path]:
    """Each installed package and the checkout folder its modules come from.

    setuptools maps a package through the longest ``package-dir`` prefix of its dotted name
    (``mrkcheck.model.x`` -> ``model/x``); a package no prefix covers lives where its name says.
    """
    setuptools = pyproject["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools.get("package-dir", {})
    folders = {}
    for package in setuptools["packages"]:
        parts = package.split(".")
        folder = Path(*parts)
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in mapping:
                folder = Path(mapping[prefix], *parts[cut:])
                break
        folders[package] = ROOT / folder
    return folders


def lay_out_tree(folders: dict[str, Path]) -> None:
    """Rebuild the installed layout under TREE: one symlink per module, as a wheel would ship.

    Rebuilt on every run so that a module added or removed since the last run is seen.
    """
    shutil.rmtree(TREE, ignore_errors=True)
    for package, folder in folders.items():
        target = TREE.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in sorted(folder.glob("*.py")):
            (target / module.name).symlink_to(module)


def checkout_paths(report: str) -> str:
    """``report`` with each path into the tree replaced by the checkout file it links to."""
    tree = re.escape(os.path.relpath(TREE))

    def to_checkout(match: re.Match[str]) -> str:
        return os.path.relpath(os.path.realpath(match.group(0)))

    return re.sub(tree + r"/\S+?\.py\b", to_checkout, report)


def main() -> int:
    """Lay out the tree, run mypy on it, print its report in checkout paths."""
    os.chdir(ROOT)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = package_folders(pyproject)
    lay_out_tree(folders)
    top = sorted({package.split(".")[0] for package in folders})
    stdout, stderr, status = api.run([os.path.relpath(TREE / name) for name in top])
    sys.stdout.write(checkout_paths(stdout))
    sys.stderr.write(checkout_paths(stderr))
    return status


if __name__ == "__main__":
    sys.exit(main())
