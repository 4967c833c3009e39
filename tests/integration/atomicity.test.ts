// Appends are atomic: readers never see part of one, and concurrent writers all land.
import { describe, expect, test } from "vitest"
import { append, create, readPages, streamPath, url } from "./helpers"

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
