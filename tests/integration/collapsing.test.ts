// The two numbers the edge cache exists for, measured against the local worker:
// long-poll readers at the tail cost about one stream-object request per append, and a
// repeated catch-up read reaches the stream object once.
import { describe, expect, test } from "vitest"
import { cacheDesc, createMultiChunk, doRequests, sleep, streamPath, tailOf, url } from "./helpers"

describe("collapsing", () => {
  test("200 long-poll readers at the tail cost at most 1.1 stream-object long-polls per append", async () => {
    const READERS = 200
    const APPENDS = 20
    const path = streamPath("herd")
    await fetch(url(path), { method: "PUT", headers: { "Content-Type": "application/json" }, body: "[]" })
    const start = await tailOf(path)
    let stop = false
    const received = new Array<number>(READERS).fill(0)
    // How each answer with data was served, from Server-Timing.
    const served = new Map<string, number>()
    const reader = async (i: number) => {
      let offset = start
      let cursor = ""
      while (!stop) {
        const res = await fetch(url(`${path}?offset=${offset}&live=long-poll${cursor ? `&cursor=${cursor}` : ""}`))
        if (res.status === 200) {
          received[i] += ((await res.json()) as unknown[]).length
          const desc = cacheDesc(res) ?? "none"
          served.set(desc, (served.get(desc) ?? 0) + 1)
        } else await res.arrayBuffer()
        expect(res.status === 200 || res.status === 204).toBe(true)
        offset = res.headers.get("stream-next-offset") ?? offset
        cursor = res.headers.get("stream-cursor") ?? cursor
      }
    }
    const readers = Array.from({ length: READERS }, (_, i) => reader(i))
    await sleep(500)
    const before = await doRequests(path, "long_poll")
    for (let k = 0; k < APPENDS; k++) {
      const res = await fetch(url(path), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ k }) })
      expect(res.status).toBe(204)
      await sleep(250)
    }
    // Every reader has everything before the count is taken.
    while (received.some((n) => n < APPENDS)) await sleep(50)
    const perAppend = ((await doRequests(path, "long_poll")) - before) / APPENDS
    stop = true
    await Promise.all(readers)
    console.log(`collapsing: ${READERS} long-poll readers, ${APPENDS} appends -> ${perAppend.toFixed(2)} stream-object long-polls per append`)
    expect(perAppend).toBeLessThanOrEqual(1.1)
    // Every answer with data names how it was served; most readers were followers or
    // cache hits, and answers from the stream object were stored.
    console.log(`collapsing: long-poll answers with data by Server-Timing cache desc: ${JSON.stringify(Object.fromEntries(served))}`)
    for (const desc of served.keys()) expect(["miss", "coalesced", "hit"]).toContain(desc)
    const answers = [...served.values()].reduce((a, b) => a + b, 0)
    expect(served.get("miss") ?? 0).toBeLessThanOrEqual(APPENDS * 1.1)
    expect((served.get("coalesced") ?? 0) + (served.get("hit") ?? 0)).toBeGreaterThan(answers * 0.9)
  }, 60_000)

  test("a catch-up read repeated by 100 clients reaches the stream object once", async () => {
    const path = streamPath("catch-up-herd")
    await createMultiChunk(path)
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => fetch(url(`${path}?offset=-1`))))
    for (const res of concurrent) {
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    const descs = concurrent.map(cacheDesc)
    expect(descs.filter((d) => d === "miss")).toHaveLength(1)
    expect(descs.every((d) => d === "miss" || d === "coalesced" || d === "hit")).toBe(true)
    await sleep(300)
    for (let i = 0; i < 50; i++) {
      const res = await fetch(url(`${path}?offset=-1`))
      expect(res.headers.get("x-cache")).toBe("HIT")
      expect(cacheDesc(res)).toBe("hit")
      await res.arrayBuffer()
    }
    const reads = await doRequests(path, "read")
    console.log(`collapsing: 100 catch-up reads of one chunk -> ${reads} stream-object read(s)`)
    expect(reads).toBe(1)
  })
})
