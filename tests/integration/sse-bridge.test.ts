// SSE readers are WebSockets from the edge to a hibernating stream object: fan-out to
// many readers costs no stream-object request per message, and readers survive the
// object's eviction from memory.
import { describe, expect, test } from "vitest"
import { append, create, doStats, sleep, streamPath, url } from "./helpers"

/** Collects the JSON values of an SSE response's data events until `until` holds. */
function follow(res: Response, until: (values: unknown[]) => boolean) {
  const values: unknown[] = []
  const offsets: string[] = []
  let buffer = ""
  const reader = res.body!.getReader()
  const done = (async () => {
    while (!until(values)) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += new TextDecoder().decode(value)
      let end
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n")
        if (event.startsWith("event: data")) values.push(...(JSON.parse(data) as unknown[]))
        if (event.startsWith("event: control")) offsets.push(JSON.parse(data).streamNextOffset)
      }
    }
    await reader.cancel().catch(() => {})
  })()
  return { values, offsets, done }
}

describe("SSE through hibernated WebSockets", () => {
  test("100 readers get every message of 1000 appends, in order, without gaps or duplicates", async () => {
    const READERS = 100
    const APPENDS = 1000
    const path = streamPath("fanout")
    await create(path, "application/json", "[]")
    const readers = await Promise.all(
      Array.from({ length: READERS }, async () =>
        follow(await fetch(url(`${path}?offset=-1&live=sse`)), (v) => v.length >= APPENDS),
      ),
    )
    for (let k = 0; k < APPENDS; k++) {
      const res = await append(path, JSON.stringify({ k }), "application/json")
      expect(res.status).toBe(204)
    }
    await Promise.race([Promise.all(readers.map((r) => r.done)), sleep(60_000)])
    const expected = Array.from({ length: APPENDS }, (_, k) => ({ k }))
    for (const r of readers) {
      expect(r.values).toEqual(expected)
      expect([...r.offsets].sort()).toEqual(r.offsets)
    }
    const stats = await doStats(path)
    console.log(
      `sse fan-out: ${READERS} readers x ${APPENDS} appends delivered in order; stream-object requests: ` +
        JSON.stringify(stats.requests.by_kind) + `, storage reads: ${stats.reads.storage}`,
    )
    expect(stats.requests.by_kind.sse).toBe(READERS)
    expect(stats.requests.by_kind.read ?? 0).toBe(0)
  }, 120_000)

  test("a reader stays connected while the stream object is evicted, and still gets new data", async () => {
    const path = streamPath("hibernate")
    await create(path, "application/json", '["before"]')
    const reader = follow(await fetch(url(`${path}?offset=-1&live=sse`)), (v) => v.includes("after"))
    await sleep(500)
    expect((await doStats(path)).requests.by_kind.sse).toBe(1)
    // Long enough for the local runtime to evict an idle object (about 10-15 s).
    await sleep(25_000)
    await append(path, '["after"]', "application/json")
    await Promise.race([reader.done, sleep(5_000)])
    expect(reader.values).toEqual(["before", "after"])
    // The counters live in memory: starting over proves the object was evicted and
    // rebuilt while the reader's socket stayed open.
    const after = await doStats(path)
    expect(after.requests.by_kind.sse ?? 0).toBe(0)
    expect(after.requests.by_kind.append).toBe(1)
  }, 40_000)
})
