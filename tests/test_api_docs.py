"""docs/api.md is what the proto comments say now (`make docs` writes it)."""

from __future__ import annotations

from pathlib import Path

from finseg.cli import apidoc

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_api_reference_is_current() -> None:
    assert (DOCS / "api.md").read_text() == apidoc.render(), "run `make docs`"


def test_every_rpc_and_message_is_in_the_reference() -> None:
    text = apidoc.render()
    for file in apidoc.descriptors().file:
        if not file.name.startswith("finseg/"):
            continue
        for service in file.service:
            assert f"### service {service.name}" in text
            assert all(f"| `{m.name}` |" in text for m in service.method)
        assert all(f"### {m.name}\n" in text for m in file.message_type)


def test_every_rpc_and_message_has_a_comment() -> None:
    """An element without a comment would show as an empty description."""
    for file in apidoc.descriptors().file:
        if not file.name.startswith("finseg/"):
            continue
        comment = apidoc._Comments(file)
        for s, service in enumerate(file.service):
            assert comment(apidoc.SERVICE, s), service.name
            for m, method in enumerate(service.method):
                assert comment(apidoc.SERVICE, s, apidoc.METHOD, m), method.name
        for i, message in enumerate(file.message_type):
            assert comment(apidoc.MESSAGE, i), message.name
            for f, field in enumerate(message.field):
                assert comment(apidoc.MESSAGE, i, apidoc.FIELD, f), f"{message.name}.{field.name}"


def test_the_docs_link_only_to_files_of_the_repository() -> None:
    """The docs stand alone: every relative link names a file of the
    repository (a user of it has nothing beside it)."""
    import re

    root = DOCS.parent
    for page in [root / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text()):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            assert path.is_relative_to(root) and path.exists(), f"{page.name} links to {target}"
