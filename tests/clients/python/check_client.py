"""Drives the worker with the official Python client (durable-streams on PyPI) and checks
that each of its readers gets back exactly what it wrote, once and in order.

Usage: check_client.py BASE_URL MODE, MODE one of catch-up, long-poll, sse, binary.
Prints one "ok" line and exits 0, or prints what differed and exits 1.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from typing import Any

import httpx
from durable_streams import DurableStream, stream

TIMEOUT_S = 15.0


class Mismatch(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Mismatch(what)


def check_equal(got: Any, want: Any, what: str) -> None:
    if got == want:
        return
    if isinstance(got, list) and isinstance(want, list):
        first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
        raise Mismatch(
            f"{what}: got {len(got)} items, want {len(want)}; first difference at {first}: "
            f"got {got[first] if first < len(got) else '<missing>'!r}, "
            f"want {want[first] if first < len(want) else '<missing>'!r}"
        )
    if isinstance(got, bytes) and isinstance(want, bytes):
        first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
        raise Mismatch(f"{what}: got {len(got)} bytes, want {len(want)}; first difference at byte {first}")
    raise Mismatch(f"{what}: got {got!r}, want {want!r}")


_counter = 0


def stream_url(base: str, label: str) -> str:
    global _counter
    _counter += 1
    return f"{base}/v1/stream/py-{label}-{time.time_ns()}-{os.getpid()}-{_counter}"


def recording_client() -> tuple[httpx.Client, list[str]]:
    """An httpx client that records each request as "METHOD url"."""
    requests: list[str] = []

    def record(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url}")

    return httpx.Client(timeout=TIMEOUT_S, event_hooks={"request": [record]}), requests


def live_params(requests: list[str]) -> list[str]:
    """The `live` query parameter of each recorded GET, "" for a catch-up read."""
    return [
        httpx.URL(r[4:]).params.get("live", "") for r in requests if r.startswith("GET ")
    ]


def wait_for(what: str, condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise Mismatch(f"timed out waiting for {what}")
        time.sleep(0.01)


class Follower(threading.Thread):
    """Reads a stream live in the background until it has `expected` items (or bytes)."""

    def __init__(self, url: str, offset: str, live: str, mode: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.url, self.offset, self.live, self.mode, self.expected = url, offset, live, mode, expected
        self.client, self.requests = recording_client()
        self.items: list[Any] = []
        self.data = b""
        self.last_offset = ""
        self.error: BaseException | None = None

    def count(self) -> int:
        return len(self.data) if self.mode == "bytes" else len(self.items)

    def run(self) -> None:
        try:
            with stream(self.url, offset=self.offset, live=self.live, client=self.client, timeout=TIMEOUT_S) as res:
                for event in res.iter_events(mode=self.mode):
                    if self.mode == "bytes":
                        self.data += event.data
                    else:
                        self.items.extend(event.data)
                    self.last_offset = event.next_offset
                    # The client keeps tailing forever; stop once everything arrived.
                    if self.count() >= self.expected:
                        return
        except BaseException as e:  # reported by the main thread
            self.error = e
        finally:
            self.client.close()

    def finish(self) -> None:
        self.join(TIMEOUT_S)
        if self.is_alive():
            raise Mismatch(f"{self.live} reader got {self.count()} of {self.expected} within {TIMEOUT_S} s")
        if self.error is not None:
            raise Mismatch(f"{self.live} reader failed: {self.error!r}")


def check_catch_up(base: str) -> str:
    # A stream that one response holds: the read-all helper.
    url = stream_url(base, "catch-up")
    handle = DurableStream.create(url, content_type="application/json")
    written = [{"i": i, "text": "ünïcødé ✓" if i % 7 == 0 else "plain", "nested": [i, None, True]} for i in range(300)]
    for item in written:
        handle.append(item)
    client, requests = recording_client()
    with stream(url, live=False, client=client) as res:
        check_equal(res.read_json(), written, "read_json()")
    check_equal(live_params(requests), [""], "requests of read_json()")

    # About 1.3 MB, more than one response, so the reader must follow Stream-Next-Offset.
    # It iterates: read_json() with live=False (client 0.1.0) returns after the first
    # response even when that is not up to date.
    url = stream_url(base, "catch-up-pages")
    handle = DurableStream.create(url, content_type="application/json")
    big = [{"i": i, "pad": str(i % 10) * 16000} for i in range(80)]
    for item in big:
        handle.append(item)
    client, requests = recording_client()
    with stream(url, live=False, client=client) as res:
        got = list(res.iter_json())
        check(res.up_to_date, "the reader stopped before the tail")
    check_equal(got, big, "iter_json()")
    pages = live_params(requests)
    check(len(pages) > 1 and set(pages) == {""}, f"expected several catch-up requests, got {pages}")
    return f"catch-up: {len(written)} and {len(big)} messages ({len(pages)} pages) read back exactly"


def check_live(base: str, live: str) -> str:
    url = stream_url(base, f"live-{live}")
    handle = DurableStream.create(url, content_type="application/json")
    written: list[dict[str, int]] = [{"round": -1, "k": k} for k in range(3)]
    for item in written:
        handle.append(item)
    rounds = [[{"round": r, "k": k} for k in range(10)] for r in range(5)]
    expected = len(written) + sum(len(r) for r in rounds)

    reader = Follower(url, "-1", live, "json", expected)
    reader.start()
    # Append only once the reader has caught up and waits at the tail.
    wait_for("the reader to catch up", lambda: len(reader.items) >= 3 and (live == "sse" or len(reader.requests) >= 2))
    time.sleep(0.1)
    for batch in rounds:
        for item in batch:
            handle.append(item)
        written.extend(batch)
        time.sleep(0.05)
    tail = handle.head().offset
    reader.finish()

    check_equal(reader.items, written, f"{live} reader")
    check_equal(reader.last_offset, tail, f"{live} reader's last offset")
    modes = live_params(reader.requests)
    if live == "sse":
        # One SSE connection for the whole read.
        check_equal(modes, ["sse"], "requests of the SSE reader")
    else:
        check(len(modes) > 3 and set(modes) == {"long-poll"}, f"expected several long-polls, got {modes}")
    return f"{live}: {expected} messages received exactly once, in order ({len(modes)} requests)"


def check_binary(base: str) -> str:
    size = 300 * 1024
    data = random.Random(0x5EED1234).randbytes(size)
    try:
        data.decode("utf-8")
        raise Mismatch("the test data is valid UTF-8")
    except UnicodeDecodeError:
        pass

    url = stream_url(base, "binary")
    handle = DurableStream.create(url, content_type="application/octet-stream")
    for at in range(0, size, 100 * 1024):
        handle.append(data[at : at + 100 * 1024])
    with stream(url, live=False) as res:
        check_equal(res.read_bytes(), data, "read_bytes()")
        check_equal(res.content_type, "application/octet-stream", "content type")
    with stream(url, live=False) as res:
        check_equal(b"".join(res), data, "byte iteration")

    # Live: a long-poll reader from the tail gets the same bytes appended again. (The
    # client decodes no base64, so it cannot follow a binary stream over SSE.)
    start = handle.head().offset
    reader = Follower(url, start, "long-poll", "bytes", size)
    reader.start()
    wait_for("the reader to wait at the tail", lambda: len(reader.requests) >= 1)
    time.sleep(0.1)
    for at in range(0, size, 60 * 1024):
        handle.append(data[at : at + 60 * 1024])
        time.sleep(0.02)
    tail = handle.head().offset
    reader.finish()
    check_equal(reader.data, data, "long-poll reader of the binary stream")
    check_equal(reader.last_offset, tail, "long-poll reader's last offset")
    return f"binary: {size} bytes read back byte for byte (catch-up and long-poll)"


MODES = {
    "catch-up": check_catch_up,
    "long-poll": lambda base: check_live(base, "long-poll"),
    "sse": lambda base: check_live(base, "sse"),
    "binary": check_binary,
}


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[2] not in MODES:
        print(f"usage: {sys.argv[0]} BASE_URL {{{','.join(MODES)}}}", file=sys.stderr)
        return 2
    base, mode = sys.argv[1].rstrip("/"), sys.argv[2]
    try:
        print(f"ok {MODES[mode](base)}")
        return 0
    except Mismatch as e:
        print(f"FAIL {mode}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
