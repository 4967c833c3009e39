// Every client mistake the worker sees gets a 4xx with a JSON error body and changes
// nothing. Mistakes that workerd's HTTP layer answers before the worker runs are asserted
// as they are answered (see "bad HTTP input"), and must change nothing either.
import { describe, expect, test } from "vitest"
import {
  abortUpload,
  append,
  create,
  expectError,
  expectRawError,
  rawHead,
  rawHttp,
  readAll,
  readJson,
  snapshot,
  streamPath,
  tailOf,
  url,
} from "./helpers"

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

// The cases below also check that each rejected request changed nothing. A few are
// answered by the runtime's HTTP layer (workerd under wrangler dev) before the worker
// runs: those answers are plain text without our JSON or CORS headers, and the tests
// say so where they assert them.
describe("bad HTTP input", () => {
  const json = { "Content-Type": "application/json" }

  /** A JSON stream with two messages, and its snapshot. */
  async function jsonStream(label: string) {
    const path = streamPath(label)
    await create(path, "application/json", '[{"n":0},{"n":1}]')
    return { path, before: await snapshot(path) }
  }

  test("oversize header values are rejected by the headers that carry them", async () => {
    const { path, before } = await jsonStream("big-headers")
    const big = "x".repeat(64 * 1024)
    const producer = { ...json, "Producer-Epoch": "0", "Producer-Seq": "0" }
    await expectError(await append(path, "2", "application/json", { ...producer, "Producer-Id": big }), 400, "INVALID_PRODUCER_ID")
    await expectError(await append(path, "2", "application/json", { "Stream-Seq": big }), 400, "INVALID_STREAM_SEQ")
    const fresh = streamPath("big-type")
    await expectError(await fetch(url(fresh), { method: "PUT", headers: { "Content-Type": `text/plain; x=${big}` } }), 400, "INVALID_CONTENT_TYPE")
    await expectError(await fetch(url(fresh), { method: "PUT", headers: { "Stream-TTL": big } }), 400, "INVALID_TTL")
    await expectError(await fetch(url(fresh), { method: "PUT", headers: { "Stream-Forked-From": `/v1/stream/${big}` } }), 400, "INVALID_STREAM_ID")
    expect((await fetch(url(fresh), { method: "HEAD" })).status).toBe(404)
    // A header we do not read is ignored, however large.
    const read = await fetch(url(`${path}?offset=-1`), { headers: { "X-Padding": big } })
    expect(read.status).toBe(200)
    expect(await read.json()).toEqual([{ n: 0 }, { n: 1 }])
    expect(await snapshot(path)).toEqual(before)
  })

  test("request heads over the runtime's limit get its 431", async () => {
    const { path, before } = await jsonStream("huge-head")
    // workerd accepts about 128 KiB of request head (10,000 small headers pass) and
    // answers more with a plain-text 431 before the worker runs.
    const cases: RequestInit[] = [
      { method: "POST", headers: { ...json, "X-Padding": "x".repeat(160 * 1024) }, body: "2" },
      { method: "POST", headers: { ...json, ...Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`X-H${i}`, "v"])) }, body: "2" },
    ]
    for (const init of cases) {
      const res = await fetch(url(path), init)
      expect(res.status).toBe(431)
      expect(res.headers.get("content-type")).toBe("text/plain")
      expect(res.headers.get("access-control-allow-origin")).toBeNull()
    }
    const longPath = `${path}-${"p".repeat(200 * 1024)}`
    expect((await fetch(url(longPath), { method: "PUT", headers: json })).status).toBe(431)
    // Below the limit, many headers reach the worker, which ignores the ones it does not know.
    const many = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`X-H${i}`, "v"]))
    await expectError(await append(path, "", "application/json", many), 400, "EMPTY_BODY")
    expect(await snapshot(path)).toEqual(before)
  })

  test("bodies over MAX_APPEND_BYTES get 413 on create and on append", async () => {
    const { path, before } = await jsonStream("big-body")
    const tooBig = `[${"1,".repeat(8.5 * 1024 * 1024)}1]`
    await expectError(await append(path, tooBig, "application/json"), 413, "PAYLOAD_TOO_LARGE")
    const fresh = streamPath("big-create")
    await expectError(await fetch(url(fresh), { method: "PUT", headers: json, body: tooBig }), 413, "PAYLOAD_TOO_LARGE")
    expect((await fetch(url(fresh), { method: "HEAD" })).status).toBe(404)
    expect(await snapshot(path)).toEqual(before)
  })

  test("stream ids that are not UTF-8 are rejected, percent-encoded or raw", async () => {
    const { path, before } = await jsonStream("utf8-id")
    for (const bad of ["%ff", "a%C3", "a%ED%A0%80", "a%C0%AF", "a%EF%BF%BD"]) {
      const target = `/v1/stream/${bad}`
      await expectError(await fetch(url(target)), 400, "INVALID_STREAM_ID")
      await expectError(await fetch(url(target), { method: "PUT", headers: json }), 400, "INVALID_STREAM_ID")
      await expectError(await fetch(url(target), { method: "POST", headers: json, body: "1" }), 400, "INVALID_STREAM_ID")
      await expectError(await fetch(url(target), { method: "DELETE" }), 400, "INVALID_STREAM_ID")
      expect((await fetch(url(target), { method: "HEAD" })).status).toBe(400)
    }
    // Raw bytes reach the worker as U+FFFD (the runtime's URL parser replaces them).
    for (const method of ["PUT", "POST", "GET"]) {
      const request = Buffer.concat([
        Buffer.from(`${method} ${path}-`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from(` HTTP/1.1\r\nHost: ${new URL(url(path)).host}\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n2`),
      ])
      expectRawError((await rawHttp(request))[0], 400, "INVALID_STREAM_ID")
    }
    expect(await snapshot(path)).toEqual(before)
  })

  test("header values with bytes that are not UTF-8 are rejected where a value is parsed", async () => {
    const { path, before } = await jsonStream("utf8-header")
    const post = (header: string, value: Buffer, extra: string[] = []) =>
      Buffer.concat([
        Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${new URL(url(path)).host}\r\nContent-Length: 1\r\n${header}: `, "latin1"),
        value,
        Buffer.from(`\r\n${extra.map((h) => `${h}\r\n`).join("")}\r\n2`, "latin1"),
      ])
    const ff = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0xff, 0xfe])])
    const producer = ["Content-Type: application/json", "Producer-Id: p"]
    expectRawError((await rawHttp(post("Producer-Epoch", ff("0"), [...producer, "Producer-Seq: 0"])))[0], 400, "INVALID_PRODUCER_NUMBER")
    expectRawError((await rawHttp(post("Producer-Seq", ff("0"), [...producer, "Producer-Epoch: 0"])))[0], 400, "INVALID_PRODUCER_NUMBER")
    expectRawError((await rawHttp(post("Content-Type", ff("application/json"))))[0], 409, "CONTENT_TYPE_MISMATCH")
    const fresh = streamPath("utf8-header-create")
    const put = (header: string, value: Buffer) =>
      Buffer.concat([
        Buffer.from(`PUT ${fresh} HTTP/1.1\r\nHost: ${new URL(url(fresh)).host}\r\nContent-Length: 0\r\n${header}: `, "latin1"),
        value,
        Buffer.from("\r\n\r\n"),
      ])
    expectRawError((await rawHttp(put("Stream-TTL", ff("60"))))[0], 400, "INVALID_TTL")
    expectRawError((await rawHttp(put("Stream-Expires-At", ff("2099-01-01T00:00:00Z"))))[0], 400, "INVALID_EXPIRES_AT")
    expectRawError((await rawHttp(put("Stream-Forked-From", ff(path))))[0], 400, "INVALID_STREAM_ID")
    expect((await fetch(url(fresh), { method: "HEAD" })).status).toBe(404)
    // NUL is not allowed in a header value at all: the runtime answers 400 in plain text.
    const [nul] = await rawHttp(post("Producer-Id", Buffer.from([0x61, 0x00, 0x62]), ["Content-Type: application/json", "Producer-Epoch: 0", "Producer-Seq: 0"]))
    expect(nul.status).toBe(400)
    expect(nul.headers["content-type"]).toBe("text/plain")
    expect(await snapshot(path)).toEqual(before)
  })

  test("header values are bytes: a Producer-Id with bytes over 0x7f is one stable id", async () => {
    // HTTP field values are octets; the runtime hands them over as Latin-1, so such an
    // id is not mangled or merged with another, and its retries are recognised.
    const path = streamPath("latin1-producer")
    await create(path, "application/json", "[]")
    const send = (seq: number) =>
      rawHttp(
        Buffer.concat([
          Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${new URL(url(path)).host}\r\nContent-Type: application/json\r\nProducer-Epoch: 0\r\nProducer-Seq: ${seq}\r\nContent-Length: 1\r\nProducer-Id: p`),
          Buffer.from([0xff, 0xfe]),
          Buffer.from(`\r\n\r\n${seq}`),
        ]),
      )
    expect((await send(0))[0].status).toBe(200)
    expect((await send(0))[0].status).toBe(204)
    const other = await append(path, "9", "application/json", { "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": "0" })
    expect(other.status).toBe(200)
    expect(await readJson(path)).toEqual([0, 9])
  })

  test("a Content-Length longer than the body sent, or invalid, changes nothing", async () => {
    const { path, before } = await jsonStream("cl-mismatch")
    const head = (cl: string) => rawHead("POST", path, ["Content-Type: application/json", `Content-Length: ${cl}`])
    // The client goes away mid-body: no answer, nothing stored.
    expect(await abortUpload(head("100"), Buffer.from("[2,3"))).toBe("")
    // The client half-closes mid-body and waits: the runtime fails the request with a
    // plain-text 503 ("Your worker restarted mid-request").
    const [halfClosed] = await rawHttp(`${head("100")}[2,3`, { halfClose: true })
    expect(halfClosed.status).toBe(503)
    expect(halfClosed.headers["content-type"]).toMatch(/^text\/plain/)
    // Content-Length values the runtime cannot parse, or two that disagree: it answers a
    // plain-text 500 before the worker runs.
    for (const cl of ["abc", "-3", "1e3", "3, 4"]) {
      const [res] = await rawHttp(`${head(cl)}[2]`)
      expect(res.status, cl).toBe(500)
      expect(res.headers["content-type"], cl).toBeUndefined()
    }
    expect(await snapshot(path)).toEqual(before)
  })

  test("a Content-Length shorter than the body sent frames a shorter request", async () => {
    const { path, before } = await jsonStream("cl-short")
    // The first two bytes are the body (`[2`, not JSON: our 400); the rest is read as the
    // next request, which the runtime rejects as an unknown method (plain-text 501).
    const [first, rest] = await rawHttp(`${rawHead("POST", path, ["Content-Type: application/json", "Content-Length: 2"])}[2,3]\r\n\r\n`, { expect: 2 })
    expectRawError(first, 400, "INVALID_JSON")
    expect(rest.status).toBe(501)
    expect(await snapshot(path)).toEqual(before)
    // A malformed chunked body reaches the worker empty.
    const [chunked] = await rawHttp(`${rawHead("POST", path, ["Content-Type: application/json", "Transfer-Encoding: chunked"])}zz\r\n[2]\r\n0\r\n\r\n`)
    expectRawError(chunked, 400, "EMPTY_BODY")
    expect(await snapshot(path)).toEqual(before)
  })

  test("unknown methods get 405 from the worker, or 501 from the runtime", async () => {
    const { path, before } = await jsonStream("methods")
    for (const method of ["PATCH", "PROPFIND", "MKCOL", "LOCK"]) {
      const res = await fetch(url(path), { method, headers: json, body: "2" })
      expect(res.headers.get("allow"), method).toBe("GET, HEAD, PUT, POST, DELETE, OPTIONS")
      await expectError(res, 405, "METHOD_NOT_ALLOWED")
    }
    const [trace] = await rawHttp(rawHead("TRACE", path))
    expectRawError(trace, 405, "METHOD_NOT_ALLOWED")
    // Methods workerd does not know (and lowercase names) never reach the worker.
    for (const method of ["FOO", "get", "BREW"]) {
      const [res] = await rawHttp(rawHead(method, path))
      expect(res.status, method).toBe(501)
      expect(res.headers["content-type"], method).toBe("text/plain")
    }
    expect(await snapshot(path)).toEqual(before)
  })

  test("huge, overflowing and beyond-the-tail offsets are 400 in every read mode", async () => {
    const { path, before } = await jsonStream("huge-offsets")
    const cases: [string, string][] = [
      ["99999999999999999999_99999999999999999999", "INVALID_OFFSET"],
      ["18446744073709551616_0", "INVALID_OFFSET"],
      ["0000000000000000_18446744073709551616", "INVALID_OFFSET"],
      [`${"9".repeat(300)}_0`, "INVALID_OFFSET"],
      ["0000000000000000_0000000000099999", "OFFSET_BEYOND_TAIL"],
      ["9999999999999999_9999999999999999", "OFFSET_BEYOND_TAIL"],
      // Inside the first message.
      ["0000000000000000_0000000000000003", "INVALID_OFFSET"],
    ]
    for (const [offset, code] of cases) {
      for (const live of ["", "&live=long-poll", "&live=sse"]) {
        await expectError(await fetch(url(`${path}?offset=${offset}${live}`)), 400, code)
      }
    }
    expect(await snapshot(path)).toEqual(before)
  })

  test("garbage TTL and expiry values are rejected, on new and existing streams", async () => {
    const path = streamPath("ttl-existing")
    await create(path, "text/plain", "abc", { "Stream-TTL": "3600" })
    const before = await snapshot(path)
    const ttls = ["-1", "-0", "+5", "1e3", "0x10", "5.5", "05", "", "abc", "18446744073709551616", "9".repeat(40)]
    const expiries = ["tomorrow", "2099-13-01T00:00:00Z", "99999-01-01T00:00:00Z", "2099-01-01T00:00:00+25:00", "2099-01-01", ""]
    const headers = [
      ...ttls.map((v): [Record<string, string>, string] => [{ "Stream-TTL": v }, "INVALID_TTL"]),
      ...expiries.map((v): [Record<string, string>, string] => [{ "Stream-Expires-At": v }, "INVALID_EXPIRES_AT"]),
    ]
    for (const [h, code] of headers) {
      const fresh = streamPath("ttl-new")
      await expectError(await fetch(url(fresh), { method: "PUT", headers: { "Content-Type": "text/plain", ...h } }), 400, code)
      expect((await fetch(url(fresh), { method: "HEAD" })).status).toBe(404)
      await expectError(await fetch(url(path), { method: "PUT", headers: { "Content-Type": "text/plain", ...h } }), 400, code)
    }
    const head = await fetch(url(path), { method: "HEAD" })
    expect(head.headers.get("stream-ttl")).toBe("3600")
    expect(await snapshot(path)).toEqual(before)
  })

  test("producer numbers that overflow, and other oversize numbers, are 400", async () => {
    const { path, before } = await jsonStream("overflow")
    const numbers = ["18446744073709551616", "18446744073709551615", "9007199254740992", "99999999999999999999999999", "-1", "+1", "1.0", "0x1", ""]
    for (const n of numbers) {
      const seq = { "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": n }
      await expectError(await append(path, "2", "application/json", seq), 400, "INVALID_PRODUCER_NUMBER")
      const epoch = { "Producer-Id": "p", "Producer-Epoch": n, "Producer-Seq": "0" }
      await expectError(await append(path, "2", "application/json", epoch), 400, "INVALID_PRODUCER_NUMBER")
    }
    const fork = streamPath("overflow-fork")
    const forkOf = (h: Record<string, string>) => fetch(url(fork), { method: "PUT", headers: { "Stream-Forked-From": path, ...h } })
    await expectError(await forkOf({ "Stream-Fork-Offset": "99999999999999999999_99999999999999999999" }), 400, "INVALID_FORK_OFFSET")
    await expectError(await forkOf({ "Stream-Fork-Offset": before.tail, "Stream-Fork-Sub-Offset": "18446744073709551616" }), 400, "INVALID_SUB_OFFSET")
    await expectError(await fetch(url(`/v1/stream/${"i".repeat(1025)}`), { method: "PUT" }), 400, "INVALID_STREAM_ID")
    expect((await fetch(url(fork), { method: "HEAD" })).status).toBe(404)
    expect(await snapshot(path)).toEqual(before)
  })
})
