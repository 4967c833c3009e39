// Appends are atomic: readers never see part of one, and concurrent writers all land.
import { describe, expect, test } from "vitest"
import { abortUpload, append, create, rawHead, readPages, sleep, snapshot, streamPath, text, url } from "./helpers"

describe("atomic appends", () => {
  test("readers during JSON batch appends only ever see whole batches", async () => {
    const path = streamPath("atomic-json")
    await create(path, "application/json", "[]")
    const BATCH = 50
    let writing = true
    const writer = (async () => {
      for (let b = 0; b < 20; b++) {
        const batch = Array.from({ length: BATCH }, (_, i) => ({ b, i, pad: "p".repeat(200) }))
        expect((await append(path, JSON.stringify(batch), "application/json")).status).toBe(204)
      }
      writing = false
    })()
    const readers = Array.from({ length: 4 }, async () => {
      let snapshots = 0
      while (writing) {
        const res = await fetch(url(`${path}?offset=-1`))
        const values = (await res.json()) as { b: number; i: number }[]
        if (res.headers.get("stream-up-to-date") === "true") {
          expect(values.length % BATCH).toBe(0)
          values.forEach((v, k) => expect([v.b, v.i]).toEqual([Math.floor(k / BATCH), k % BATCH]))
        }
        snapshots += 1
      }
      return snapshots
    })
    await writer
    const counts = await Promise.all(readers)
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
  })

  test("readers during large binary appends never see a partial append", async () => {
    const path = streamPath("atomic-bin")
    await create(path, "application/octet-stream")
    const SIZE = 300 * 1024
    let writing = true
    const writer = (async () => {
      for (let k = 1; k <= 8; k++) {
        expect((await append(path, new Uint8Array(SIZE).fill(k), "application/octet-stream")).status).toBe(204)
      }
      writing = false
    })()
    let snapshots = 0
    const reader = (async () => {
      while (writing) {
        snapshots += 1
        const { pages } = await readPages(path)
        const total = pages.reduce((n, p) => n + p.length, 0)
        expect(total % SIZE).toBe(0)
        let at = 0
        for (const p of pages) {
          for (let i = 0; i < p.length; i += 4096) expect(p[i]).toBe(Math.floor((at + i) / SIZE) + 1)
          at += p.length
        }
      }
    })()
    await Promise.all([writer, reader])
    expect(snapshots).toBeGreaterThan(0)
  })

  test("concurrent appends are all stored once, at distinct offsets", async () => {
    const path = streamPath("concurrent")
    await create(path, "application/json", "[]")
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => append(path, JSON.stringify({ i }), "application/json")),
    )
    const offsets = new Set(results.map((r) => r.headers.get("stream-next-offset")))
    expect(results.every((r) => r.status === 204)).toBe(true)
    expect(offsets.size).toBe(25)
    const values = (await (await fetch(url(`${path}?offset=-1`))).json()) as { i: number }[]
    expect(values.map((v) => v.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i))
  })
})

describe("client aborts", () => {
  test("an upload cut off mid-body leaves no partial append, and later appends work", async () => {
    for (const [type, partial, whole] of [
      ["application/octet-stream", Buffer.alloc(300 * 1024, 7), new Uint8Array([9])],
      ["application/json", Buffer.from(`[${'{"x":1},'.repeat(20_000)}`), '{"after":true}'],
    ] as const) {
      const path = streamPath("abort-upload")
      await create(path, type, type === "application/json" ? '[{"before":true}]' : new Uint8Array([1]))
      const before = await snapshot(path)
      // A long-poll at the tail must not be woken by the aborted upload.
      const waiting = fetch(url(`${path}?offset=${before.tail}&live=long-poll`))
      await sleep(100)
      const head = rawHead("POST", path, [`Content-Type: ${type}`, "Content-Length: 1048576"])
      expect(await abortUpload(head, partial)).toBe("")
      // The same with producer headers: the seq is not used up by the aborted attempt.
      const producer = ["Producer-Id: aborting", "Producer-Epoch: 0", "Producer-Seq: 0"]
      expect(await abortUpload(rawHead("POST", path, [`Content-Type: ${type}`, "Content-Length: 1048576", ...producer]), partial)).toBe("")
      expect(await snapshot(path)).toEqual(before)
      const res = await append(path, whole, type, { "Producer-Id": "aborting", "Producer-Epoch": "0", "Producer-Seq": "0" })
      expect(res.status).toBe(200)
      const woken = await waiting
      expect(woken.status).toBe(200)
      const got = new Uint8Array(await woken.arrayBuffer())
      if (type === "application/json") expect(JSON.parse(text(got))).toEqual([{ after: true }])
      else expect([...got]).toEqual([9])
      expect(woken.headers.get("stream-next-offset")).toBe(res.headers.get("stream-next-offset"))
    }
  })
})

describe("client aborts the runtime does not report", () => {
  // Known to fail under wrangler dev: workerd hands the worker a chunked request body
  // that the client cut off as if it had ended there (a plain JS worker sees the same),
  // so the part that arrived is appended. With a Content-Length the cut is reported and
  // nothing is stored (above). If this starts passing, the runtime was fixed: make it a
  // plain test.
  test.fails("a chunked upload cut off mid-body leaves no partial append", async () => {
    const path = streamPath("abort-chunked")
    await create(path, "application/octet-stream", new Uint8Array([1]))
    const before = await snapshot(path)
    const head = rawHead("POST", path, ["Content-Type: application/octet-stream", "Transfer-Encoding: chunked"])
    expect(await abortUpload(head, Buffer.from("5\r\nAAAAA\r\n5\r\nAA"))).toBe("")
    expect(await snapshot(path)).toEqual(before)
  })
})

describe("live readers and atomic appends", () => {
  type OnUpToDate = (pages: Uint8Array[]) => void

  /** Follows a stream with long-polls until `done()`; calls `onUpToDate` with all pages so far at each up-to-date answer. */
  async function longPollFollow(path: string, done: () => boolean, onUpToDate: OnUpToDate) {
    const pages: Uint8Array[] = []
    let offset = "-1"
    while (!done()) {
      const res = await fetch(url(`${path}?offset=${offset}&live=long-poll`))
      expect([200, 204]).toContain(res.status)
      if (res.status === 200) pages.push(new Uint8Array(await res.arrayBuffer()))
      offset = res.headers.get("stream-next-offset")!
      if (res.headers.get("stream-up-to-date") === "true") onUpToDate(pages)
    }
    return pages
  }

  /** The same over SSE; each data event's payload is turned into bytes by `decode`. */
  async function sseFollow(path: string, done: () => boolean, onUpToDate: OnUpToDate, decode: (data: string) => Uint8Array) {
    const res = await fetch(url(`${path}?offset=-1&live=sse`))
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    const pages: Uint8Array[] = []
    let buffer = ""
    while (!done()) {
      const next = await reader.read()
      if (next.done) break
      buffer += decoder.decode(next.value, { stream: true })
      let end
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n")
        if (event.startsWith("event: data")) pages.push(decode(data))
        if (event.startsWith("event: control") && JSON.parse(data).upToDate) onUpToDate(pages)
      }
    }
    await reader.cancel().catch(() => {})
    return pages
  }

  /**
   * Runs two long-poll and two SSE readers from the start while `write` appends, and
   * `measure`s what each had at every up-to-date point (asserting it is whole appends);
   * resolves with each reader's pages once all reached `total`.
   */
  async function follow(path: string, total: number, measure: (pages: Uint8Array[]) => number, decode: (d: string) => Uint8Array, write: () => Promise<void>) {
    const seen = [0, 0, 0, 0]
    const readers = seen.map((_, r) => {
      const done = () => seen[r] >= total
      const onUpToDate = (pages: Uint8Array[]) => (seen[r] = measure(pages))
      return r < 2 ? longPollFollow(path, done, onUpToDate) : sseFollow(path, done, onUpToDate, decode)
    })
    await sleep(200)
    await write()
    const pages = await Promise.race([Promise.all(readers), sleep(30_000).then(() => null)])
    expect(pages, `readers stopped at ${seen.join(", ")} of ${total}`).not.toBeNull()
    return pages!
  }

  test("long-poll and SSE readers of a JSON stream see only whole batches", async () => {
    const path = streamPath("atomic-live-json")
    await create(path, "application/json", "[]")
    const BATCH = 40
    const BATCHES = 15
    const expected = Array.from({ length: BATCHES * BATCH }, (_, k) => ({ b: Math.floor(k / BATCH), i: k % BATCH }))
    const values = (pages: Uint8Array[]) => pages.flatMap((p) => JSON.parse(text(p)) as unknown[])
    let upToDate = 0
    const measure = (pages: Uint8Array[]) => {
      const v = values(pages)
      expect(v.length % BATCH).toBe(0)
      expect(v).toEqual(expected.slice(0, v.length))
      upToDate += 1
      return v.length
    }
    const readers = await follow(path, expected.length, measure, (d) => new TextEncoder().encode(d), async () => {
      for (let b = 0; b < BATCHES; b++) {
        const batch = expected.slice(b * BATCH, (b + 1) * BATCH)
        expect((await append(path, JSON.stringify(batch), "application/json")).status).toBe(204)
      }
    })
    for (const pages of readers) expect(values(pages)).toEqual(expected)
    // Readers caught up between batches, not only at the end.
    expect(upToDate).toBeGreaterThan(8)
  }, 60_000)

  test("long-poll and SSE readers of a binary stream see only whole appends", async () => {
    const path = streamPath("atomic-live-bin")
    await create(path, "application/octet-stream")
    // Larger than one SSE chunk (256 KiB), so each append reaches SSE readers in parts,
    // of which only the last is up to date.
    const SIZE = 300 * 1024
    const APPENDS = 6
    const measure = (pages: Uint8Array[]) => {
      const all = Buffer.concat(pages)
      expect(all.length % SIZE).toBe(0)
      for (let i = 0; i < all.length; i += 4096) expect(all[i]).toBe(Math.floor(i / SIZE) + 1)
      return all.length
    }
    const base64 = (d: string) => new Uint8Array(Buffer.from(d, "base64"))
    const readers = await follow(path, SIZE * APPENDS, measure, base64, async () => {
      for (let k = 1; k <= APPENDS; k++) {
        expect((await append(path, new Uint8Array(SIZE).fill(k), "application/octet-stream")).status).toBe(204)
      }
    })
    for (const pages of readers) expect(measure(pages)).toBe(SIZE * APPENDS)
  }, 60_000)
})
