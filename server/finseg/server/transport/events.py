"""Live-segment events in protobuf wire format, stored as sent.

Each event is stored as a WatchSegmentResponse holding that one event:
protobuf concatenates repeated fields, so a response of many events is the
concatenation of their stored values, and a replay builds no message. That
is what lets a watcher catch up on a million events in about a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from finseg.v1 import segments_pb2

from . import convert


def _framed(event: segments_pb2.SegmentEvent) -> bytes:
    return segments_pb2.WatchSegmentResponse(events=[event]).SerializeToString()


def encode(segment_id: str, events: Sequence[dict[str, Any]]) -> list[bytes]:
    """Each event (domain/live.py's dicts) as stored."""
    return [_framed(convert.segment_event(segment_id, event)) for event in events]


def decode(stored: bytes) -> segments_pb2.SegmentEvent:
    return segments_pb2.WatchSegmentResponse.FromString(stored).events[0]


def scrub(stored: bytes) -> bytes:
    """The event with its user id replaced by the erased marker."""
    event = decode(stored)
    event.user_id, event.erased = "", True
    return _framed(event)


class Codec:
    """How domain/live.py stores events (the domain knows no protobuf)."""

    encode = staticmethod(encode)
    scrub = staticmethod(scrub)
