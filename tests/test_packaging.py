"""The package lists of the two distributions (pyproject.toml: the server
and the `finseg` command; client/pyproject.toml: finseg-client) name every
package folder: a missing one installs fine in editable mode and breaks only
in a real install (the container, a user's pip install)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = [ROOT, ROOT / "client"]


def _config(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text())


def _roots(project: Path) -> dict[str, Path]:
    """The folder of each listed package that is no other's subpackage."""
    setuptools = _config(project)["tool"]["setuptools"]
    listed, mapped = setuptools["packages"], setuptools.get("package-dir", {})
    return {name: project / mapped.get(name, name.replace(".", "/")) for name in listed
            if not any(name.startswith(other + ".") for other in listed)}


@pytest.mark.parametrize("project", PROJECTS, ids=["server", "client"])
def test_every_package_folder_is_listed(project: Path) -> None:
    found = set()
    for name, folder in _roots(project).items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            found.add(".".join((name, *relative)))
    assert found == set(_config(project)["tool"]["setuptools"]["packages"])


@pytest.mark.parametrize("project", PROJECTS, ids=["server", "client"])
def test_no_bare_server_or_client_module_is_installed(project: Path) -> None:
    assert all(p.startswith("finseg.")
               for p in _config(project)["tool"]["setuptools"]["packages"])


def test_the_server_depends_on_the_client_and_ships_none_of_it() -> None:
    server, client = _config(ROOT), _config(ROOT / "client")
    shared = set(server["tool"]["setuptools"]["packages"]) & \
        set(client["tool"]["setuptools"]["packages"])
    assert not shared
    assert f"finseg-client=={client['project']['version']}" in \
        server["project"]["dependencies"]


@pytest.mark.parametrize("project", PROJECTS, ids=["server", "client"])
def test_every_data_file_in_a_package_is_installed(project: Path) -> None:
    """A data file (the default taxonomy, stub .pyi files) must be listed in
    package-data, or a real install leaves it out."""
    patterns = _config(project)["tool"]["setuptools"].get("package-data", {})
    for name, folder in _roots(project).items():
        for path in folder.rglob("*"):
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            package = ".".join((name, *path.parent.relative_to(folder).parts))
            assert any(path.match(glob) for glob in patterns.get(package, [])), \
                f"{path} is not in [tool.setuptools.package-data] of {package}"
