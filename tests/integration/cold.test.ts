// Cold storage: hot logs cut into R2 segment objects at the threshold, reads across
// segments and the hot log, stable offsets, and the registry stream.
import { describe, expect, test } from "vitest"
import { append, create, doStats, readJson, readPages, sleep, streamPath, tailOf, url } from "./helpers"

/** Rotation runs after the acknowledgment: wait for the expected segment count. */
async function untilSegments(path: string, n: number): Promise<number> {
  let seen = -1
  for (let i = 0; i < 100 && seen < n; i++) {
    seen = (await doStats(path)).storage?.segments ?? -1
    if (seen < n) await sleep(50)
  }
  return seen
}

const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ i: from + i }))

describe("cold segments", () => {
  test("the hot log is cut exactly when it reaches 1000 messages, not before", async () => {
    const path = streamPath("threshold")
    await create(path, "application/json", JSON.stringify(batch(0, 999)))
    await sleep(300)
    expect((await doStats(path)).storage.segments).toBe(0)
    await append(path, JSON.stringify({ i: 999 }), "application/json")
    expect(await untilSegments(path, 1)).toBe(1)
    const stats = await doStats(path)
    expect(stats.storage.hot_messages).toBe(0)
    expect(await readJson(path)).toEqual(batch(0, 1000))
  })

  test("an append that crosses the threshold moves whole, and reads cross segments into the hot log", async () => {
    const path = streamPath("across")
    await create(path, "application/json", "[]")
    // 700 + 700 crosses 1000 inside the second append; 900 + 300 crosses again.
    for (const [from, n] of [[0, 700], [700, 700], [1400, 900], [2300, 300], [2600, 50]]) {
      await append(path, JSON.stringify(batch(from, n)), "application/json")
    }
    expect(await untilSegments(path, 2)).toBe(2)
    const stats = await doStats(path)
    expect(stats.storage.hot_messages).toBe(50)
    const res = await fetch(url(`${path}?offset=-1`), { headers: { "Cache-Control": "no-cache" } })
    expect(res.headers.get("server-timing")).toMatch(/r2;dur=/)
    expect(await readJson(path)).toEqual(batch(0, 2650))
  })

  test("a binary stream is cut at 4 MiB and reads back byte for byte from any offset", async () => {
    const path = streamPath("bin-cold")
    const MiB = 1024 * 1024
    const a = new Uint8Array(4 * MiB - 1).map((_, i) => i % 251)
    await create(path, "application/octet-stream", a)
    await sleep(300)
    expect((await doStats(path)).storage.segments).toBe(0)
    const beforeCut = await tailOf(path)
    await append(path, new Uint8Array([7, 7]), "application/octet-stream")
    expect(await untilSegments(path, 1)).toBe(1)
    await append(path, new Uint8Array([9]), "application/octet-stream")
    const { pages } = await readPages(path)
    const all = Buffer.concat(pages.map((p) => Buffer.from(p)))
    expect(all.length).toBe(4 * MiB + 2)
    expect(Buffer.compare(all.subarray(0, 4 * MiB - 1), Buffer.from(a))).toBe(0)
    expect([...all.subarray(4 * MiB - 1)]).toEqual([7, 7, 9])
    // An offset handed out before the cut still reads the same bytes, from R2 and SQLite.
    const after = await fetch(url(`${path}?offset=${beforeCut}`))
    expect([...new Uint8Array(await after.arrayBuffer())]).toEqual([7, 7, 9])
  })

  test("offsets count the segments before them and never change", async () => {
    const path = streamPath("readseq")
    await create(path, "application/json", JSON.stringify(batch(0, 1000)))
    expect(await untilSegments(path, 1)).toBe(1)
    const tail1 = await tailOf(path)
    expect(tail1.startsWith("0000000000000000_")).toBe(true)
    await append(path, JSON.stringify(batch(1000, 1000)), "application/json")
    expect(await untilSegments(path, 2)).toBe(2)
    const tail2 = await tailOf(path)
    expect(tail2.startsWith("0000000000000001_")).toBe(true)
    expect(tail1 < tail2).toBe(true)
    // The offset handed out before the second cut still reads exactly what followed it.
    const rest = await fetch(url(`${path}?offset=${tail1}`))
    expect(await rest.json()).toEqual(batch(1000, 1000))
    expect(rest.headers.get("stream-next-offset")).toBe(tail2)
  })

  test("deleting a stream with segments lets it be created again with only new data", async () => {
    const path = streamPath("recreate")
    await create(path, "application/json", JSON.stringify(batch(0, 1000)))
    expect(await untilSegments(path, 1)).toBe(1)
    expect((await fetch(url(path), { method: "DELETE" })).status).toBe(204)
    await create(path, "application/json", '["fresh"]')
    expect(await readJson(path)).toEqual(["fresh"])
  })
})

describe("the registry stream", () => {
  test("records creations and deletions, and refuses client writes", async () => {
    const path = streamPath("registered")
    const key = path.replace("/v1/stream/", "")
    await create(path, "text/plain", "x")
    await fetch(url(path), { method: "DELETE" })
    let events: { key: string; headers: { operation: string }; value?: { contentType: string } }[] = []
    for (let i = 0; i < 100; i++) {
      events = ((await readJson("/v1/stream/__registry__")) as typeof events).filter((e) => e.key === key)
      if (events.length >= 2) break
      await sleep(50)
    }
    expect(events.map((e) => e.headers.operation)).toEqual(["insert", "delete"])
    expect(events[0].value?.contentType).toBe("text/plain")
    const write = await append("/v1/stream/__registry__", "{}", "application/json")
    expect(write.status).toBe(403)
    expect(((await write.json()) as { error: { code: string } }).error.code).toBe("REGISTRY_READ_ONLY")
  })

  test("can be followed live", async () => {
    const tail = await tailOf("/v1/stream/__registry__")
    const path = streamPath("watched")
    const waiting = fetch(url(`/v1/stream/__registry__?offset=${tail}&live=long-poll`))
    await sleep(100)
    await create(path, "text/plain")
    const res = await waiting
    expect(res.status).toBe(200)
    const keys = ((await res.json()) as { key: string }[]).map((e) => e.key)
    expect(keys).toContain(path.replace("/v1/stream/", ""))
  })
})
