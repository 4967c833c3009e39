// Live readers: waking on close and delete, fan-out to many waiters, SSE endings.
import { describe, expect, test } from "vitest"
import { LONG_POLL_TIMEOUT_MS, append, create, expectError, sleep, streamPath, tailOf, url } from "./helpers"

/** Reads an SSE response until it ends or `deadlineMs` passes; returns the text and whether it ended. */
async function readSse(res: Response, deadlineMs: number, onFirstChunk?: () => Promise<void>) {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let received = ""
  let ended = false
  const timer = setTimeout(() => reader.cancel().catch(() => {}), deadlineMs)
  try {
    for (let first = true; ; first = false) {
      const { done, value } = await reader.read()
      if (done) {
        ended = true
        break
      }
      received += decoder.decode(value, { stream: true })
      if (first && onFirstChunk) await onFirstChunk()
    }
  } catch {
    ended = false
  } finally {
    clearTimeout(timer)
  }
  return { received, ended }
}

describe("live readers", () => {
  test("DELETE wakes a waiting long-poll, which then sees the stream gone", async () => {
    const path = streamPath("lp-delete")
    await create(path)
    const tail = await tailOf(path)
    const started = Date.now()
    const waiting = fetch(url(`${path}?offset=${tail}&live=long-poll`))
    await sleep(100)
    expect((await fetch(url(path), { method: "DELETE" })).status).toBe(204)
    const res = await waiting
    expect(res.status).toBe(404)
    // Woken by the delete, not by the long-poll timeout.
    expect(Date.now() - started).toBeLessThan(LONG_POLL_TIMEOUT_MS)
  })

  test("closing wakes a waiting long-poll with 204 and Stream-Closed", async () => {
    const path = streamPath("lp-close")
    await create(path)
    const tail = await tailOf(path)
    const started = Date.now()
    const waiting = fetch(url(`${path}?offset=${tail}&live=long-poll`))
    await sleep(100)
    expect((await fetch(url(path), { method: "POST", headers: { "Stream-Closed": "true" } })).status).toBe(204)
    const res = await waiting
    expect(res.status).toBe(204)
    expect(res.headers.get("stream-closed")).toBe("true")
    expect(Date.now() - started).toBeLessThan(LONG_POLL_TIMEOUT_MS)
  })

  test("one append releases every waiting long-poll with the same data and next offset", async () => {
    const path = streamPath("lp-fanout")
    await create(path, "application/json", "[]")
    const tail = await tailOf(path)
    const waiters = Array.from({ length: 20 }, () => fetch(url(`${path}?offset=${tail}&live=long-poll&cursor=1`)))
    await sleep(150)
    await append(path, '[{"hello":"all"}]', "application/json")
    const answers = await Promise.all(waiters)
    const next = new Set<string>()
    for (const res of answers) {
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual([{ hello: "all" }])
      next.add(`${res.headers.get("stream-next-offset")} ${res.headers.get("stream-cursor")}`)
    }
    expect(next.size).toBe(1)
  })

  test("DELETE ends an open SSE response", async () => {
    const path = streamPath("sse-delete")
    await create(path, "text/plain", "x")
    const res = await fetch(url(`${path}?offset=-1&live=sse`))
    expect(res.status).toBe(200)
    const { received, ended } = await readSse(res, 5000, async () => {
      expect((await fetch(url(path), { method: "DELETE" })).status).toBe(204)
    })
    expect(received).toMatch(/event: data\nid:\d+_\d+\ndata:x\n\n/)
    expect(ended).toBe(true)
  })

  test("an SSE reader gets each append as a data event followed by its control event", async () => {
    const path = streamPath("sse-live")
    await create(path, "text/plain")
    const res = await fetch(url(`${path}?offset=now&live=sse`))
    const writer = (async () => {
      await sleep(100)
      await append(path, "one")
      await sleep(50)
      await append(path, "two\nlines", "text/plain", { "Stream-Closed": "true" })
    })()
    const { received, ended } = await readSse(res, 5000)
    await writer
    expect(ended).toBe(true)
    const events = received.split("\n\n").filter((e) => e.length > 0)
    expect(events[0]).toMatch(/^event: control\ndata:\{.*"upToDate":true.*\}\nid:\d+_\d+$/)
    const rest = events.slice(1)
    const payload = (e: string) => e.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n")
    expect(rest.filter((e) => e.startsWith("event: data")).map(payload)).toEqual([
      "one",
      "two\nlines",
    ])
    for (let i = 0; i < rest.length; i += 2) {
      expect(rest[i]).toMatch(/^event: data/)
      expect(rest[i + 1]).toMatch(/^event: control/)
    }
    expect(rest[rest.length - 1]).toContain('"streamClosed":true')
  })
})

describe("deleting a stream under its live readers", () => {
  test("DELETE ends every waiting long-poll and SSE reader, and their reconnects get 404", async () => {
    const path = streamPath("delete-readers")
    await create(path, "application/json", '[{"a":1}]')
    const tail = await tailOf(path)
    // Long-polls at the tail, some sharing one URL (collapsed at the edge), some not.
    const polls = Array.from({ length: 8 }, (_, i) => fetch(url(`${path}?offset=${tail}&live=long-poll${i < 4 ? "" : `&cursor=${i}`}`)))
    const sse = await Promise.all(["offset=-1", "offset=now", `offset=${tail}`].map((q) => fetch(url(`${path}?${q}&live=sse`))))
    const following = sse.map((res) => readSse(res, 5000))
    await sleep(200)
    const deleted = Date.now()
    expect((await fetch(url(path), { method: "DELETE" })).status).toBe(204)
    for (const res of await Promise.all(polls)) await expectError(res, 404, "STREAM_NOT_FOUND")
    // Woken by the delete: a long-poll that timed out would have been a 204.
    expect(Date.now() - deleted).toBeLessThan(LONG_POLL_TIMEOUT_MS)
    const ended = await Promise.all(following)
    expect(ended.map((e) => e.ended)).toEqual([true, true, true])
    expect(ended[0].received).toMatch(/event: data\nid:\d+_\d+\ndata:\[\{"a":1\}\]/)
    for (const e of ended) expect(e.received).not.toContain("streamClosed")
    // A reader reconnecting from where it was finds the stream gone.
    await expectError(await fetch(url(`${path}?offset=${tail}&live=sse`)), 404, "STREAM_NOT_FOUND")
    await expectError(await fetch(url(`${path}?offset=${tail}&live=long-poll`)), 404, "STREAM_NOT_FOUND")
  })

  test("DELETE ends a binary stream's SSE readers too", async () => {
    const path = streamPath("delete-binary-sse")
    await create(path, "application/octet-stream", new Uint8Array([1, 2, 3]))
    const res = await fetch(url(`${path}?offset=-1&live=sse`))
    expect(res.headers.get("stream-sse-data-encoding")).toBe("base64")
    const { received, ended } = await readSse(res, 5000, async () => {
      expect((await fetch(url(path), { method: "DELETE" })).status).toBe(204)
    })
    expect(received).toMatch(/event: data\nid:\d+_\d+\ndata:AQID\n\n/)
    expect(ended).toBe(true)
  })
})
