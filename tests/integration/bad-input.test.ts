// Every client mistake gets a 4xx with a JSON error body and changes nothing.
import { describe, expect, test } from "vitest"
import { append, create, expectError, readAll, streamPath, tailOf, url } from "./helpers"

describe("bad input", () => {
  test("malformed reads are rejected", async () => {
    const path = streamPath("bad-read")
    await create(path, "text/plain", "abc")
    const cases: [string, string][] = [
      ["offset=", "INVALID_OFFSET"],
      ["offset=-1&offset=-1", "DUPLICATE_PARAMETER"],
      ["offset=12", "INVALID_OFFSET"],
      ["offset=0000000000000000_000000000000000x", "INVALID_OFFSET"],
      ["offset=9999999999999999_9999999999999999", "OFFSET_BEYOND_TAIL"],
      ["offset=%", "INVALID_QUERY"],
      ["live=long-poll", "OFFSET_REQUIRED"],
      ["live=sse", "OFFSET_REQUIRED"],
      ["offset=-1&live=websocket", "INVALID_LIVE"],
    ]
    for (const [query, code] of cases) await expectError(await fetch(url(`${path}?${query}`)), 400, code)
  })

  test("a JSON read may not start inside a message", async () => {
    const path = streamPath("bad-json-offset")
    await create(path, "application/json", '[{"a":1},{"b":2}]')
    await expectError(await fetch(url(`${path}?offset=0000000000000000_0000000000000003`)), 400, "INVALID_OFFSET")
  })

  test("malformed creates are rejected and create nothing", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ "Stream-TTL": "abc" }, "INVALID_TTL"],
      [{ "Stream-TTL": "-1" }, "INVALID_TTL"],
      [{ "Stream-Expires-At": "tomorrow" }, "INVALID_EXPIRES_AT"],
      [{ "Stream-TTL": "60", "Stream-Expires-At": "2099-01-01T00:00:00Z" }, "TTL_AND_EXPIRES_AT"],
      [{ "Stream-Fork-Offset": "0000000000000000_0000000000000000" }, "FORK_HEADERS_WITHOUT_SOURCE"],
      [{ "Stream-Forked-From": "/elsewhere/x" }, "INVALID_FORK_SOURCE"],
    ]
    for (const [headers, code] of cases) {
      const path = streamPath("bad-create")
      await expectError(await fetch(url(path), { method: "PUT", headers: { "Content-Type": "text/plain", ...headers } }), 400, code)
      expect((await fetch(url(path), { method: "HEAD" })).status).toBe(404)
    }
    const json = streamPath("bad-create-json")
    await expectError(await fetch(url(json), { method: "PUT", headers: { "Content-Type": "application/json" }, body: "{nope" }), 400, "INVALID_JSON")
    expect((await fetch(url(json), { method: "HEAD" })).status).toBe(404)
  })

  test("a fork of itself is rejected", async () => {
    const path = streamPath("self-fork")
    await expectError(await fetch(url(path), { method: "PUT", headers: { "Stream-Forked-From": path } }), 400, "INVALID_FORK_SOURCE")
  })

  test("malformed appends are rejected and leave the stream unchanged", async () => {
    const path = streamPath("bad-append")
    await create(path, "application/json", '[{"n":0}]')
    await append(path, '{"n":1}', "application/json", { "Stream-Seq": "5" })
    const before = await tailOf(path)
    const cases: [RequestInit, number, string][] = [
      [{ body: "" , headers: { "Content-Type": "application/json" } }, 400, "EMPTY_BODY"],
      [{ body: "{", headers: { "Content-Type": "application/json" } }, 400, "INVALID_JSON"],
      [{ body: "[]", headers: { "Content-Type": "application/json" } }, 400, "EMPTY_JSON_ARRAY"],
      [{ body: '{"x":1}', headers: { "Content-Type": "text/plain" } }, 409, "CONTENT_TYPE_MISMATCH"],
      [{ body: new Blob(['{"x":1}']) }, 400, "MISSING_CONTENT_TYPE"],
      [{ body: "1", headers: { "Content-Type": "application/json", "Stream-Seq": "4" } }, 409, "SEQ_REGRESSION"],
      [{ body: "1", headers: { "Content-Type": "application/json", "Producer-Id": "p", "Producer-Epoch": "0" } }, 400, "INCOMPLETE_PRODUCER_HEADERS"],
      [{ body: "1", headers: { "Content-Type": "application/json", "Producer-Id": "p", "Producer-Epoch": "1e3", "Producer-Seq": "0" } }, 400, "INVALID_PRODUCER_NUMBER"],
      [{ body: "1", headers: { "Content-Type": "application/json", "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": "3" } }, 409, "PRODUCER_SEQ_GAP"],
    ]
    for (const [init, status, code] of cases) {
      await expectError(await fetch(url(path), { method: "POST", ...init }), status, code)
    }
    expect(await tailOf(path)).toBe(before)
    const all = await readAll(path)
    expect(JSON.parse(new TextDecoder().decode(all.bytes))).toEqual([{ n: 0 }, { n: 1 }])
  })

  test("operations on a missing stream are 404s", async () => {
    const path = streamPath("missing")
    await expectError(await fetch(url(path)), 404, "STREAM_NOT_FOUND")
    await expectError(await append(path, "x"), 404, "STREAM_NOT_FOUND")
    await expectError(await fetch(url(path), { method: "DELETE" }), 404, "STREAM_NOT_FOUND")
    expect((await fetch(url(path), { method: "HEAD" })).status).toBe(404)
  })

  test("a deleted stream kept for its forks answers 410, and its path cannot be reused", async () => {
    const source = streamPath("retained")
    const fork = streamPath("retained-fork")
    await create(source, "text/plain", "abc")
    await create(fork, "text/plain", undefined, { "Stream-Forked-From": source })
    expect((await fetch(url(source), { method: "DELETE" })).status).toBe(204)
    await expectError(await fetch(url(source)), 410, "STREAM_GONE")
    await expectError(await append(source, "x"), 410, "STREAM_GONE")
    await expectError(await fetch(url(source), { method: "PUT", headers: { "Content-Type": "text/plain" } }), 409, "STREAM_RETAINED")
    expect(new TextDecoder().decode((await readAll(fork)).bytes)).toBe("abc")
  })
})
