// The edge cache, one test per behaviour of the cache checklist in docs/cache.md, plus
// the fixes over the reference implementation. Every cacheable request's X-Cache is
// asserted; DO request counts come from the stream object's counters.
import { describe, expect, test } from "vitest"
import {
  BASE, append, cacheDesc, create, createMultiChunk, doRequests, doStats, sleep, streamPath, tailOf, url,
} from "./helpers"

const xcache = (res: Response) => res.headers.get("x-cache")
const get = (path: string, query = "", headers: Record<string, string> = {}) =>
  fetch(url(`${path}${query ? `?${query}` : ""}`), { headers })

/**
 * Cache writes land after the response; poll until the entry is visible. Polling starts
 * after the collapsing map's linger (200 ms), so the hit comes from the cache itself.
 */
async function untilHit(path: string, query: string): Promise<Response> {
  await sleep(250)
  for (let i = 0; i < 100; i++) {
    const res = await get(path, query)
    if (xcache(res) === "HIT") {
      expect(cacheDesc(res)).toBe("hit")
      return res
    }
    await res.arrayBuffer()
    await sleep(20)
  }
  throw new Error(`${path}?${query} never became a cache hit`)
}

describe("what is stored", () => {
  test("a mid-stream chunk is stored, then served from the cache with an identical body", async () => {
    const path = streamPath("mid")
    await createMultiChunk(path)
    const first = await get(path, "offset=-1")
    expect(xcache(first)).toBe("MISS")
    expect(cacheDesc(first)).toBe("miss")
    expect(first.headers.get("stream-up-to-date")).toBeNull()
    expect(first.headers.get("cache-control")).toBe("public, max-age=60, stale-while-revalidate=300")
    const original = Buffer.from(await first.arrayBuffer())
    const hit = await untilHit(path, "offset=-1")
    expect(Buffer.compare(Buffer.from(await hit.arrayBuffer()), original)).toBe(0)
    expect(hit.headers.get("etag")).toBe(first.headers.get("etag"))
  })

  test("a plain GET at the tail is never stored, and is not publicly cacheable downstream", async () => {
    const path = streamPath("tail")
    await create(path, "text/plain", "abc")
    for (let i = 0; i < 3; i++) {
      const res = await get(path, "offset=-1")
      expect(xcache(res)).toBe("MISS")
      expect(cacheDesc(res)).toBe("miss (not stored: at-tail)")
      expect(res.headers.get("cache-control")).toBe("no-cache")
      await res.arrayBuffer()
    }
    expect(await doRequests(path, "read")).toBe(3)
  })

  test("a closed stream's plain GET at the tail is not stored either", async () => {
    const path = streamPath("closed-tail")
    await create(path, "text/plain", "abc", { "Stream-Closed": "true" })
    for (let i = 0; i < 2; i++) {
      const res = await get(path, "offset=-1")
      expect(xcache(res)).toBe("MISS")
      expect(res.headers.get("stream-closed")).toBe("true")
      await res.arrayBuffer()
    }
  })

  test("read-after-write: a plain GET at the tail sees the data appended just before", async () => {
    const path = streamPath("raw")
    await create(path, "text/plain", "a")
    expect(await (await get(path, "offset=-1")).text()).toBe("a")
    await append(path, "b")
    expect(await (await get(path, "offset=-1")).text()).toBe("ab")
  })

  test("a long-poll answer at the tail is stored, and its URL is then a hit", async () => {
    const path = streamPath("lp-store")
    await create(path, "text/plain")
    const tail = await tailOf(path)
    const waiting = get(path, `offset=${tail}&live=long-poll&cursor=7`)
    await sleep(100)
    await append(path, "new")
    const first = await waiting
    expect(first.status).toBe(200)
    expect(xcache(first)).toBe("MISS")
    expect(cacheDesc(first)).toBe("miss")
    expect(first.headers.get("cache-control")).toBe("public, max-age=20")
    expect(await first.text()).toBe("new")
    const again = await untilHit(path, `offset=${tail}&live=long-poll&cursor=7`)
    expect(await again.text()).toBe("new")
    expect(again.headers.get("stream-cursor")).toBe(first.headers.get("stream-cursor"))
  })

  test("a mid-stream long-poll is stored too", async () => {
    const path = streamPath("lp-mid")
    await createMultiChunk(path)
    const first = await get(path, "offset=-1&live=long-poll")
    expect(first.status).toBe(200)
    expect(xcache(first)).toBe("MISS")
    await first.arrayBuffer()
    await untilHit(path, "offset=-1&live=long-poll")
  })

  test("a long-poll 204 is never stored", async () => {
    const path = streamPath("lp-204")
    await create(path, "text/plain")
    const tail = await tailOf(path)
    for (let i = 0; i < 2; i++) {
      const res = await get(path, `offset=${tail}&live=long-poll&cursor=3`)
      expect(res.status).toBe(204)
      expect(xcache(res)).toBe("MISS")
      expect(cacheDesc(res)).toBe("miss (not stored: status-204)")
      expect(res.headers.get("cache-control")).toBe("no-store")
    }
    expect(await doRequests(path, "long_poll")).toBe(2)
  })

  test("offset=now is never stored and says no-store", async () => {
    const path = streamPath("now")
    await create(path, "text/plain", "x")
    for (let i = 0; i < 2; i++) {
      const res = await get(path, "offset=now")
      expect(xcache(res)).toBe("MISS")
      expect(cacheDesc(res)).toBe("miss (not stored: offset-now)")
      expect(res.headers.get("cache-control")).toBe("no-store")
    }
  })

  test("errors are never stored: a 404 does not hide a stream created after it", async () => {
    const path = streamPath("404")
    const missing = await get(path, "offset=-1")
    expect(missing.status).toBe(404)
    expect(xcache(missing)).toBe("MISS")
    expect(cacheDesc(missing)).toBe("miss (not stored: error)")
    expect(missing.headers.get("cache-control")).toBe("no-store")
    await create(path, "text/plain", "now here")
    const found = await get(path, "offset=-1")
    expect(found.status).toBe(200)
    expect(await found.text()).toBe("now here")
  })

  test("an expired stream is a 404 with no-store, never a cached chunk", async () => {
    const path = streamPath("ttl-expired")
    await createMultiChunk(path, { "Stream-TTL": "1" })
    const live = await get(path, "offset=-1")
    expect(live.status).toBe(200)
    const cc = live.headers.get("cache-control") ?? ""
    // Cached no longer than the stream lives.
    expect(cc === "no-store" || /^public, max-age=1$/.test(cc)).toBe(true)
    await live.arrayBuffer()
    await sleep(2100)
    const gone = await fetch(url(`${path}?offset=-1`), { headers: { "Cache-Control": "no-cache" } })
    expect(gone.status).toBe(404)
    expect(gone.headers.get("cache-control")).toBe("no-store")
  })

  test("a TTL stream's chunks are cached no longer than its remaining life", async () => {
    const path = streamPath("ttl-cap")
    await createMultiChunk(path, { "Stream-TTL": "10" })
    const res = await get(path, "offset=-1")
    const age = Number(/max-age=(\d+)/.exec(res.headers.get("cache-control") ?? "")?.[1])
    expect(age).toBeGreaterThan(0)
    expect(age).toBeLessThanOrEqual(10)
  })
})

describe("X-Cache and what is not cacheable", () => {
  test("a client asking for a fresh answer bypasses the cache but refreshes it for others", async () => {
    const path = streamPath("bypass")
    await createMultiChunk(path)
    const fresh = await get(path, "offset=-1", { "Cache-Control": "no-cache" })
    expect(xcache(fresh)).toBe("BYPASS")
    expect(cacheDesc(fresh)).toBe("bypass")
    await fresh.arrayBuffer()
    await untilHit(path, "offset=-1")
    const again = await get(path, "offset=-1", { "Cache-Control": "no-cache" })
    expect(xcache(again)).toBe("BYPASS")
  })

  test("SSE, HEAD and writes carry no X-Cache", async () => {
    const path = streamPath("no-xcache")
    const put = await fetch(url(path), { method: "PUT", headers: { "Content-Type": "text/plain" } })
    expect(xcache(put)).toBeNull()
    expect(xcache(await append(path, "x"))).toBeNull()
    expect(xcache(await fetch(url(path), { method: "HEAD" }))).toBeNull()
    expect((await fetch(url(path), { method: "HEAD" })).headers.get("cache-control")).toBe("no-store")
    const controller = new AbortController()
    const sse = await fetch(url(`${path}?offset=-1&live=sse`), { signal: controller.signal })
    expect(sse.headers.get("content-type")).toBe("text/event-stream")
    expect(xcache(sse)).toBeNull()
    controller.abort()
    expect(xcache(await fetch(url(path), { method: "DELETE" }))).toBeNull()
  })

  test("a new cursor is a new URL, so a rotated long-poll is a miss", async () => {
    const path = streamPath("rotate")
    await createMultiChunk(path)
    const first = await get(path, "offset=-1&live=long-poll&cursor=1")
    await first.arrayBuffer()
    await untilHit(path, "offset=-1&live=long-poll&cursor=1")
    const next = first.headers.get("stream-cursor")
    expect(Number(next)).toBeGreaterThan(1)
    const rotated = await get(path, `offset=-1&live=long-poll&cursor=${next}`)
    expect(xcache(rotated)).toBe("MISS")
  })
})

describe("revalidation and keys", () => {
  test("a matching If-None-Match is answered 304 at the edge without a stream-object request", async () => {
    const path = streamPath("etag-edge")
    await createMultiChunk(path)
    const first = await get(path, "offset=-1")
    const etag = first.headers.get("etag") ?? ""
    await first.arrayBuffer()
    await untilHit(path, "offset=-1")
    const reads = await doRequests(path, "read")
    // fetch() adds `Cache-Control: no-cache` to conditional requests (a bypass) unless the
    // caller sets Cache-Control itself.
    const revalidated = await get(path, "offset=-1", { "If-None-Match": `W/${etag}, "other"`, "Cache-Control": "max-age=0" })
    expect(revalidated.status).toBe(304)
    expect(xcache(revalidated)).toBe("HIT")
    expect(cacheDesc(revalidated)).toBe("revalidated")
    expect(revalidated.headers.get("etag")).toBe(etag)
    expect(await revalidated.text()).toBe("")
    expect(await doRequests(path, "read")).toBe(reads)
    const stale = await get(path, "offset=-1", { "If-None-Match": '"1:0:1"', "Cache-Control": "max-age=0" })
    expect(stale.status).toBe(200)
  })

  test("the ETag changes when the stream closes", async () => {
    const path = streamPath("etag-close")
    await create(path, "text/plain", "abc")
    const open = await get(path, "offset=-1")
    await fetch(url(path), { method: "POST", headers: { "Stream-Closed": "true" } })
    const closed = await get(path, "offset=-1")
    expect(closed.headers.get("stream-closed")).toBe("true")
    expect(closed.headers.get("etag")).not.toBe(open.headers.get("etag"))
  })

  test("equivalent URLs share one entry", async () => {
    const path = streamPath("equivalent")
    await createMultiChunk(path)
    const first = await get(path, "offset=-1")
    await first.arrayBuffer()
    await untilHit(path, "offset=-1")
    for (const query of [
      "offset=0000000000000000_0000000000000000",
      "",
      "x=1&offset=-1&y",
      "offset=%2D1",
      "cursor=99&offset=-1",
    ]) {
      const res = await get(path, query)
      expect(xcache(res), query).toBe("HIT")
      await res.arrayBuffer()
    }
    expect(await doRequests(path, "read")).toBe(1)
  })

  test("cached answers are re-headed with the requester's CORS and security headers", async () => {
    const path = streamPath("cors-hit")
    await createMultiChunk(path)
    await (await get(path, "offset=-1")).arrayBuffer()
    const hit = await untilHit(path, "offset=-1")
    expect(hit.headers.get("access-control-allow-origin")).toBe("*")
    expect(hit.headers.get("x-content-type-options")).toBe("nosniff")
    expect(hit.headers.get("server-timing")).toMatch(/cache;dur=[\d.]+;desc="hit"/)
    // The Cache API's own status would be mistaken for a CDN's.
    expect(hit.headers.get("cf-cache-status")).toBeNull()
  })
})

describe("Server-Timing", () => {
  test("a miss reports the stream object, storage, cache, origin and edge", async () => {
    const path = streamPath("timing")
    await create(path, "text/plain", "x")
    const res = await get(path, "offset=-1")
    const timing = res.headers.get("server-timing") ?? ""
    for (const name of ["do", "storage", "cache", "origin", "edge"]) expect(timing).toMatch(new RegExp(`(^|, )${name};dur=[\\d.]+`))
    expect(timing).toContain('cache;dur=')
    expect(cacheDesc(res)).toBe("miss (not stored: at-tail)")
    const put = await fetch(url(streamPath("timing-put")), { method: "PUT" })
    expect(put.headers.get("server-timing")).toMatch(/do;dur=.*edge;dur=/)
    const err = await fetch(`${BASE}/nowhere`)
    expect(err.headers.get("server-timing")).toMatch(/^edge;dur=/)
  })
})

describe("the stream object's side", () => {
  test("identical concurrent reads share one storage read", async () => {
    const path = streamPath("do-coalesce")
    await create(path, "text/plain", "abc")
    const before = (await doStats(path)).reads
    // no-cache keeps the edge out of the way: both requests reach the stream object.
    const answers = await Promise.all([0, 1, 2].map(() => get(path, "offset=-1", { "Cache-Control": "no-cache" })))
    for (const a of answers) expect(await a.text()).toBe("abc")
    const after = (await doStats(path)).reads
    expect(after.storage - before.storage).toBe(1)
    expect(after.reused - before.reused).toBe(2)
  })

  test("readers released by one append all answer from one storage read", async () => {
    const path = streamPath("do-stagger")
    await create(path, "text/plain")
    const tail = await tailOf(path)
    const waiters = Array.from({ length: 8 }, () => get(path, `offset=${tail}&live=long-poll`, { "Cache-Control": "no-cache" }))
    await sleep(200)
    expect((await doStats(path)).waiting).toBe(8)
    const before = (await doStats(path)).reads
    await append(path, "hello")
    for (const w of await Promise.all(waiters)) expect(await w.text()).toBe("hello")
    const after = (await doStats(path)).reads
    expect(after.storage - before.storage).toBe(1)
    expect(after.reused - before.reused).toBe(7)
  })
})
