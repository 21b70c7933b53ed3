"""Webhooks of live segments and callback URLs of jobs, against a real HTTP
receiver that fails for a while and recovers: every event arrives, in
sequence order, each signed with HMAC-SHA256 over its body."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import connect
from test_live_segments import account

from finseg.client import api, errors

SECRET = "a secret of the receiver"


class Receiver:
    """An HTTP server on a loopback port that answers 500 to the first
    `failures` POSTs and 200 after, keeping what it accepted."""

    def __init__(self, failures: int) -> None:
        self.failures, self.accepted, self.refused = failures, [], 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.refused < receiver.failures:
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    receiver.accepted.append((dict(self.headers), body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30) -> list:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            assert time.monotonic() < deadline, f"received {len(self.accepted)} of {count}"
            time.sleep(0.05)
        return self.accepted


@pytest.fixture
def receiver():
    made: list[Receiver] = []
    yield lambda failures=0: made.append(Receiver(failures)) or made[-1]
    for r in made:
        r.server.shutdown()


def test_a_failing_receiver_gets_every_event_in_order_and_signed(server, receiver):
    hook = receiver(failures=3)
    with connect(f"127.0.0.1:{server.port}", "hooks") as client:
        client.upsert_accounts([account("ann", 50_000), account("ben", 0)])
        segment = client.wait(client.create_segment(api.live(
            api.high_balance("EUR", 100), webhook_url=hook.url, webhook_secret=SECRET)
        ).segment_id)
        assert segment.spec.webhook.url == hook.url and not segment.spec.webhook.secret
        client.upsert_accounts([account("ben", 20_000), account("cat", 30_000)])
        client.upsert_accounts([account("ann", 0)])
        accepted = hook.wait_for(4)
        events = []
        for headers, body in accepted:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Finseg-Signature"] == expected
            event = json.loads(body)
            assert headers["X-Finseg-Sequence"] == event["sequence"]
            events.append((event["sequence"], event["type"], event["user_id"]))
        assert events == [("1", "SEGMENT_EVENT_TYPE_ENTER", "ann"),
                          ("2", "SEGMENT_EVENT_TYPE_ENTER", "ben"),
                          ("3", "SEGMENT_EVENT_TYPE_ENTER", "cat"),
                          ("4", "SEGMENT_EVENT_TYPE_EXIT", "ann")]
        assert hook.refused == 3
        deadline = time.monotonic() + 10
        while client.get_segment(segment.segment_id).segment.webhook.delivered_sequence < 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get_segment(segment.segment_id).segment.webhook.last_error == ""


def test_a_job_calls_its_callback_url_when_it_ends(server, receiver):
    hook = receiver(failures=1)
    with connect(f"127.0.0.1:{server.port}", "callbacks") as client:
        client.upsert_accounts([account("ann", 50_000)])
        spec = api.high_balance("EUR", 100)
        spec.callback_url = hook.url
        segment = client.create_segment(spec)
        assert segment.spec.callback_url == hook.url
        (_, body), = hook.wait_for(1)
        assert json.loads(body) == {"segment_id": segment.segment_id, "state": "SUCCEEDED"}


def test_bad_hooks_are_refused(server):
    with connect(f"127.0.0.1:{server.port}", "bad-hooks") as client:
        for url, secret, why in (("ftp://x/y", SECRET, "https"), ("http://", SECRET, "https"),
                                 ("https://crm.example.com", "short", "16 characters")):
            with pytest.raises(errors.InvalidArgument, match=why):
                client.create_segment(api.live(api.high_balance("EUR", 1), url, secret))
        spec = api.high_balance("EUR", 1)
        spec.webhook.url, spec.webhook.secret = "https://crm.example.com", SECRET
        with pytest.raises(errors.InvalidArgument, match="for live segments"):
            client.create_segment(spec)
