"""Another build of the platform beside this one, to compare the two side by side.

This machine's speed drifts by a quarter over minutes, so two builds measured one after
the other compare the machine as much as the code. `other_build(ref)` checks the commit
out in a git worktree and gives the environment under which `python -m specialistly...`
runs that build: its packages come first on PYTHONPATH. The virtualenv, and so the
dependencies and the plugins' entry points, are this one's: a commit that needs others may
not start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Build:
    commit: str  # abbreviated
    tree: Path  # its checkout: where its processes run
    env: dict[str, str]  # what puts its packages first


@contextmanager
def other_build(ref: str) -> Iterator[Build]:
    """The build at `ref` (a commit, branch or tag), checked out until the block ends."""
    commit = git("rev-parse", "--short", f"{ref}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="specialistly-build-") as tmp:
        tree, packages = Path(tmp) / "tree", Path(tmp) / "packages"
        git("worktree", "add", "--detach", "--quiet", str(tree), commit)
        try:
            # Each package where its pyproject installs it from (specialistly = platform/).
            setuptools = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["setuptools"]
            packages.mkdir()
            for name, folder in setuptools["package-dir"].items():
                (packages / name).symlink_to(tree / folder)
            yield Build(commit, tree, {"PYTHONPATH": os.pathsep.join([str(packages), str(tree)])})
        finally:
            git("worktree", "remove", "--force", str(tree))


def git(*args: str) -> str:
    """What a git command in this repository prints."""
    binary = shutil.which("git")
    if binary is None:
        raise RuntimeError("comparing with another build needs git")
    done = subprocess.run(
        [binary, "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()
