"""The package list in pyproject.toml names every package folder: a missing
one installs fine in editable mode and breaks only in a real install (the
container)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = {name: ROOT / path for name, path in config["package-dir"].items()}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((name, *relative)))
    assert found == listed


def test_no_bare_server_or_client_module_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p.startswith("finseg.") for p in config["packages"])


def test_every_data_file_in_a_package_is_installed() -> None:
    """A data file (the default taxonomy) must be listed in package-data, or
    a real install leaves it out."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config.get("package-data", {})
    roots = {name: ROOT / path for name, path in config["package-dir"].items()}
    for name, folder in roots.items():
        for path in folder.rglob("*"):
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            package = ".".join((name, *path.parent.relative_to(folder).parts))
            assert any(path.match(glob) for glob in patterns.get(package, [])), \
                f"{path} is not in [tool.setuptools.package-data] of {package}"
