"""Writes docs/api.md, the API reference, from the comments in protos/.

`python -m finseg.cli.apidoc OUT` writes it; `--check` fails when OUT is
not what the protos give, so the tests catch a reference left stale.

protoc (grpcio-tools' copy) parses the protos into descriptors that keep
their comments (`--include_source_info`); this module only lays those out
as Markdown. No documentation plugin for protoc installs from the package
registries this project may use (protoc-gen-doc is a Go binary), and the
descriptors already hold everything a reference needs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from .protogen import PROTO_ROOT

#: Paths into FileDescriptorProto (descriptor.proto's field numbers).
PACKAGE, MESSAGE, ENUM, SERVICE = 2, 4, 5, 6
FIELD, NESTED, NESTED_ENUM, VALUE, METHOD = 2, 3, 4, 2, 2

_LABELS = {descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED: "repeated "}
_TYPES = {v: k.removeprefix("TYPE_").lower()
          for k, v in descriptor_pb2.FieldDescriptorProto.Type.items()}


def descriptors() -> descriptor_pb2.FileDescriptorSet:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.glob("finseg/v1/*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        if protoc.main(["grpc_tools.protoc", f"-I{PROTO_ROOT}",
                        f"-I{Path(protoc.__file__).parent / '_proto'}",
                        "--include_source_info", f"--descriptor_set_out={out}",
                        *protos]) != 0:
            raise SystemExit("protoc failed")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


class _Comments:
    def __init__(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        self.by_path = {tuple(loc.path): loc.leading_comments.strip()
                        for loc in file.source_code_info.location}

    def __call__(self, *path: int) -> str:
        """The comment on one line, for a table cell."""
        return " ".join(line.strip() for line in self.by_path.get(path, "").splitlines())

    def block(self, *path: int) -> str:
        """The comment with its lines, so lists in it stay lists."""
        return "\n".join(line[1:] if line.startswith(" ") else line
                         for line in self.by_path.get(path, "").splitlines())


def _type(field: descriptor_pb2.FieldDescriptorProto) -> str:
    name = field.type_name.rsplit(".", 1)[-1] if field.type_name else _TYPES[field.type]
    return _LABELS.get(field.label, "") + name


def _text(text: str) -> str:
    """Comment text as Markdown shows it: `<hex>` would vanish as a tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _message(message: descriptor_pb2.DescriptorProto, path: tuple[int, ...],
             comment: _Comments, prefix: str = "") -> Iterator[str]:
    name = prefix + message.name
    if message.options.map_entry:
        return
    yield f"### {name}\n\n{_text(comment(*path))}\n"
    if message.field:
        yield "| field | type | description |\n| --- | --- | --- |"
        for i, field in enumerate(message.field):
            yield (f"| `{field.name}` | `{_type(field)}` | "
                   f"{_cell(comment(*path, FIELD, i))} |")
        yield ""
    for i, nested in enumerate(message.nested_type):
        yield from _message(nested, (*path, NESTED, i), comment, f"{name}.")
    for i, enum in enumerate(message.enum_type):
        yield from _enum(enum, (*path, NESTED_ENUM, i), comment, f"{name}.")


def _enum(enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...],
          comment: _Comments, prefix: str = "") -> Iterator[str]:
    yield f"### {prefix}{enum.name}\n\n{_text(comment(*path))}\n"
    yield "| value | number | description |\n| --- | --- | --- |"
    for i, value in enumerate(enum.value):
        yield f"| `{value.name}` | {value.number} | {_cell(comment(*path, VALUE, i))} |"
    yield ""


def _file(file: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    comment = _Comments(file)
    yield f"## {file.name}\n"
    if comment(PACKAGE):
        yield f"{_text(comment.block(PACKAGE))}\n"
    for s, service in enumerate(file.service):
        yield f"### service {service.name}\n\n{_text(comment(SERVICE, s))}\n"
        yield "| method | request | response | description |\n| --- | --- | --- | --- |"
        for m, method in enumerate(service.method):
            stream_in = "stream " if method.client_streaming else ""
            stream_out = "stream " if method.server_streaming else ""
            yield (f"| `{method.name}` | `{stream_in}{method.input_type.rsplit('.', 1)[-1]}` | "
                   f"`{stream_out}{method.output_type.rsplit('.', 1)[-1]}` | "
                   f"{_cell(comment(SERVICE, s, METHOD, m))} |")
        yield ""
    for i, message in enumerate(file.message_type):
        yield from _message(message, (MESSAGE, i), comment)
    for i, enum in enumerate(file.enum_type):
        yield from _enum(enum, (ENUM, i), comment)


def render() -> str:
    files = [f for f in descriptors().file if f.name.startswith("finseg/")]
    head = ["# finseg API reference", "",
            "Generated from the comments in `protos/finseg/v1` by `make docs`; do not edit.",
            "What each segment type computes, with examples: [segment-types.md]"
            "(segment-types.md).", ""]
    body = [line for file in files for line in _file(file)]
    return "\n".join(head + body).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if not args.check:
        args.out.write_text(text)
        return
    if not args.out.exists() or args.out.read_text() != text:
        print(f"{args.out} is stale; run `make docs`", file=sys.stderr)
        raise SystemExit(1)
    print(f"{args.out} is current")


if __name__ == "__main__":
    main()
