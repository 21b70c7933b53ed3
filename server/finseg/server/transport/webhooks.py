"""Outbound HTTP: live segments' webhooks and jobs' callback URLs.

A webhook gets one POST per event, in sequence order, each body the event
as JSON (the same fields WatchSegment sends) signed with HMAC-SHA256 under
the webhook's secret (header X-Finseg-Signature: sha256=<hex>). An event is
delivered when the receiver answers 2xx; until then it is retried with
exponential backoff (0.5 s doubling to 60 s), and nothing after it is sent.
The delivery position is stored with the segment, so after a restart
delivery goes on from there: at least once, and the sequence is the
receiver's idempotency key. Events are read from the segment's log, which
erasure scrubs, so no queue holds an erased user's id.

A job's callback URL gets {"segment_id", "state"} once the job ends,
retried the same way up to CALLBACK_ATTEMPTS times (not across restarts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from google.protobuf import json_format

from finseg.v1 import segments_pb2

from ..domain.jobs import JobManager

log = logging.getLogger(__name__)

#: Events read from the log per round and segment.
ROUND_EVENTS = 100
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 60.0
CALLBACK_ATTEMPTS = 8
SIGNATURE_HEADER = "X-Finseg-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str:
    """POSTs JSON; "" on a 2xx answer, else what went wrong."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "finseg", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            return "" if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))


class Webhooks:
    def __init__(self, jobs: JobManager, timeout: float = 10.0) -> None:
        self.jobs, self.timeout = jobs, timeout
        self._stop = threading.Event()
        self._retry_at: dict[str, tuple[float, float]] = {}  # segment -> (when, backoff)
        self._callbacks: list[tuple[float, int, str, bytes]] = []  # (when, attempt, url, body)
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="finseg-webhooks", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def job_ended(self, tenant: str, record: dict[str, Any]) -> None:
        """Queues the job's callback, if it has one."""
        callback = record.get("callback")
        if callback:
            body = json.dumps({"segment_id": record["id"], "state": record["state"]}).encode()
            with self._lock:
                self._callbacks.append((0.0, 0, callback["url"], body))

    def _loop(self) -> None:
        version = self.jobs.live.version
        while not self._stop.is_set():
            try:
                busy = self._calls() | self._webhooks()
            except Exception:  # the next round tries again
                log.exception("webhook delivery failed")
                busy = False
            if not busy:
                version = self.jobs.live.wait(version, FIRST_BACKOFF)

    def _webhooks(self) -> bool:
        busy = False
        for tenant, segment_id in self.jobs.live.with_webhooks():
            when, _ = self._retry_at.get(segment_id, (0.0, 0.0))
            if time.monotonic() >= when:
                busy |= self._deliver(tenant, segment_id)
        return busy

    def _deliver(self, tenant: str, segment_id: str) -> bool:
        """Sends the next events of one segment; True if it sent any."""
        hook = self.jobs.live.webhook(tenant, segment_id)
        if hook is None:
            return False
        stored, _, _ = self.jobs.live.events(tenant, segment_id, hook["delivered"],
                                             ROUND_EVENTS)
        delivered, error = hook["delivered"], ""
        for event in segments_pb2.WatchSegmentResponse.FromString(stored).events:
            sequence = event.sequence
            body = json.dumps(json_format.MessageToDict(
                event, preserving_proto_field_name=True)).encode()
            error = post(hook["url"], body, {SIGNATURE_HEADER: signature(hook["secret"], body),
                                             "X-Finseg-Sequence": str(sequence)},
                         self.timeout)
            if error:
                _, backoff = self._retry_at.get(segment_id, (0.0, FIRST_BACKOFF / 2))
                backoff = min(backoff * 2, MAX_BACKOFF)
                self._retry_at[segment_id] = (time.monotonic() + backoff, backoff)
                break
            delivered = sequence
            self._retry_at.pop(segment_id, None)
        if delivered != hook["delivered"] or error != hook["error"]:
            self.jobs.live.webhook_done(tenant, segment_id, delivered, error)
        return delivered != hook["delivered"]

    def _calls(self) -> bool:
        with self._lock:
            due = [c for c in self._callbacks if c[0] <= time.monotonic()]
            self._callbacks = [c for c in self._callbacks if c[0] > time.monotonic()]
        for _, attempt, url, body in due:
            error = post(url, body, {}, self.timeout)
            if error and attempt + 1 < CALLBACK_ATTEMPTS:
                backoff = min(FIRST_BACKOFF * 2 ** attempt, MAX_BACKOFF)
                with self._lock:
                    self._callbacks.append((time.monotonic() + backoff, attempt + 1, url, body))
            elif error:
                log.warning("job callback to %s failed %d times (%s); giving up",
                            url, CALLBACK_ATTEMPTS, error)
        return bool(due)
