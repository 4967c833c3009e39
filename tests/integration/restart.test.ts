// Persisted state across a restart of the local worker, and a damaged cold segment.
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createServer } from "node:http"
import { describe, expect, test } from "vitest"
import { freePort, freshState, r2Object, startWorker } from "./worker"

const json = { "Content-Type": "application/json" }
const BUCKET = "durable-streams-segments"

/** The object key of a default-project stream's segment (see src/store/segment.rs). */
const segmentKey = (id: string, readSeq: number) =>
  `streams/${Buffer.from(`_default/${id}`).toString("base64url")}/1/${String(readSeq).padStart(16, "0")}.seg`

async function readAll(base: string, id: string, offset = "-1"): Promise<unknown[]> {
  const values: unknown[] = []
  for (;;) {
    const res = await fetch(`${base}/v1/stream/${id}?offset=${offset}`)
    if (res.status !== 200) throw new Error(`read ${id} at ${offset}: ${res.status}`)
    values.push(...((await res.json()) as unknown[]))
    offset = res.headers.get("stream-next-offset")!
    if (res.headers.get("stream-up-to-date") === "true") return values
  }
}

describe("cold storage under load", () => {
  test("appends racing cuts to cold storage are neither lost nor duplicated", async () => {
    const state = freshState()
    const worker = await startWorker(state)
    const id = `race-${Date.now()}`
    const stream = `${worker.url}/v1/stream/${id}`
    try {
      await fetch(stream, { method: "PUT", headers: json, body: "[]" })
      // The worker cuts a segment every 5 messages, so cuts run while appends arrive.
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let k = 0; k < 10; k++) {
          const res = await fetch(stream, { method: "POST", headers: json, body: JSON.stringify([{ w, k }, { w, k, second: true }]) })
          expect(res.status).toBe(204)
        }
      })
      await Promise.all(writers)
      await new Promise((r) => setTimeout(r, 500))
      const stats = (await (await fetch(`${worker.url}/debug/stats/${id}`)).json()) as { storage: { segments: number } }
      expect(stats.storage.segments).toBeGreaterThan(5)
      const values = (await readAll(worker.url, id)) as { w: number; k: number; second?: boolean }[]
      expect(values.length).toBe(160)
      for (let w = 0; w < 8; w++) {
        const mine = values.filter((v) => v.w === w)
        // Each writer's messages appear once each, in the order it wrote them.
        expect(mine.map((v) => `${v.k}${v.second ? "b" : "a"}`)).toEqual(
          Array.from({ length: 10 }, (_, k) => [`${k}a`, `${k}b`]).flat(),
        )
      }
    } finally {
      await worker.stop()
      rmSync(state, { recursive: true, force: true })
    }
  }, 120_000)
})

describe("restarts", () => {
  test("data, offsets and producer state survive a restart of the worker", async () => {
    const state = freshState()
    const id = `restart-${Date.now()}`
    let worker = await startWorker(state)
    const stream = `${worker.url}/v1/stream/${id}`
    const offsets: string[] = []
    try {
      await fetch(stream, { method: "PUT", headers: json, body: "[]" })
      for (let k = 0; k < 4; k++) {
        const body = JSON.stringify([k * 3, k * 3 + 1, k * 3 + 2])
        const headers = { ...json, "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": `${k}` }
        const res = await fetch(stream, { method: "POST", headers, body })
        expect(res.status).toBe(200)
        offsets.push(res.headers.get("stream-next-offset")!)
      }
      // Give the background cut to cold storage time to finish before stopping.
      await new Promise((r) => setTimeout(r, 500))
      expect(((await (await fetch(`${worker.url}/debug/stats/${id}`)).json()) as { storage: { segments: number } }).storage.segments).toBe(2)
    } finally {
      await worker.stop()
    }
    worker = await startWorker(state)
    const again = `${worker.url}/v1/stream/${id}`
    try {
      expect(await readAll(worker.url, id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
      for (const [k, offset] of offsets.entries()) {
        const rest = await readAll(worker.url, id, offset)
        expect(rest).toEqual(Array.from({ length: 9 - 3 * k }, (_, i) => 3 * (k + 1) + i))
      }
      const retry = await fetch(again, {
        method: "POST",
        headers: { ...json, "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": "3" },
        body: "[9,10,11]",
      })
      expect(retry.status).toBe(204)
      expect(retry.headers.get("stream-next-offset")).toBe(offsets[3])
      const next = await fetch(again, { method: "POST", headers: json, body: "12" })
      expect(next.headers.get("stream-next-offset")! > offsets[3]).toBe(true)
      expect(await readAll(worker.url, id)).toEqual(Array.from({ length: 13 }, (_, i) => i))
    } finally {
      await worker.stop()
      rmSync(state, { recursive: true, force: true })
    }
  }, 120_000)

  test("a failed webhook's retry schedule survives a restart, and the retry is delivered after it", async () => {
    const state = freshState()
    const port = await freePort()
    const id = `retry-${Date.now()}`
    let worker = await startWorker(state)
    const sub = () => `${worker.url}/v1/stream/__ds/subscriptions/${id}`
    let before: { retry: { attempts: number; next_attempt_at: string } | null; status: string }
    try {
      const hook = { type: "webhook", pattern: "jobs/*", webhook: { url: `http://127.0.0.1:${port}/hook` } }
      expect((await fetch(sub(), { method: "PUT", headers: json, body: JSON.stringify(hook) })).status).toBe(201)
      await fetch(`${worker.url}/v1/stream/jobs/${id}`, { method: "PUT", headers: json, body: '{"n":1}' })
      for (;;) {
        before = (await (await fetch(sub())).json()) as typeof before
        if (before.retry && before.retry.attempts >= 2) break
        await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      await worker.stop()
    }
    const received: string[] = []
    const receiver = createServer((req, res) => {
      let body = ""
      req.on("data", (c) => (body += c))
      req.on("end", () => {
        received.push(body)
        res.writeHead(200, { "content-type": "application/json" })
        res.end('{"done":true}')
      })
    })
    await new Promise<void>((resolve) => receiver.listen(port, "127.0.0.1", resolve))
    worker = await startWorker(state)
    try {
      // The freshly loaded object keeps the schedule it had, and its alarm fires it.
      const after = (await (await fetch(sub())).json()) as typeof before
      if (received.length === 0) expect(after.retry).toEqual(before.retry)
      for (let i = 0; received.length === 0 && i < 600; i++) await new Promise((r) => setTimeout(r, 100))
      expect(received).toHaveLength(1)
      expect(JSON.parse(received[0]).subscription_id).toBe(id)
    } finally {
      receiver.closeAllConnections()
      receiver.close()
      await worker.stop()
      rmSync(state, { recursive: true, force: true })
    }
  }, 120_000)

  test("a damaged segment fails reads of its range with a 500, and nothing else", async () => {
    const state = freshState()
    const id = `damaged-${Date.now()}`
    let worker = await startWorker(state)
    let hotOffset = ""
    try {
      const stream = `${worker.url}/v1/stream/${id}`
      await fetch(stream, { method: "PUT", headers: json, body: "[0,1,2,3,4]" })
      const res = await fetch(stream, { method: "POST", headers: json, body: "[5,6]" })
      hotOffset = res.headers.get("stream-next-offset")!
      await fetch(stream, { method: "POST", headers: json, body: "[7]" })
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      await worker.stop()
    }
    // Cut the first segment object short, as a failed or partial write would.
    const file = join(state, "segment.bin")
    r2Object(state, ["get", `${BUCKET}/${segmentKey(id, 0)}`, "--file", file])
    const bytes = readFileSync(file)
    writeFileSync(file, bytes.subarray(0, bytes.length - 3))
    r2Object(state, ["put", `${BUCKET}/${segmentKey(id, 0)}`, "--file", file])
    worker = await startWorker(state)
    try {
      const stream = `${worker.url}/v1/stream/${id}`
      const broken = await fetch(`${stream}?offset=-1`)
      expect(broken.status).toBe(500)
      expect(((await broken.json()) as { error: { code: string } }).error.code).toBe("SEGMENT_UNREADABLE")
      expect(broken.headers.get("server-timing")).toMatch(/r2;dur=[\d.]+/)
      expect(await readAll(worker.url, id, hotOffset)).toEqual([7])
      expect((await fetch(stream, { method: "POST", headers: json, body: "8" })).status).toBe(204)
      expect(await readAll(worker.url, id, hotOffset)).toEqual([7, 8])
    } finally {
      await worker.stop()
    }
    // A missing object is reported the same way.
    r2Object(state, ["delete", `${BUCKET}/${segmentKey(id, 0)}`])
    worker = await startWorker(state)
    try {
      expect((await fetch(`${worker.url}/v1/stream/${id}?offset=-1`)).status).toBe(500)
    } finally {
      await worker.stop()
      rmSync(state, { recursive: true, force: true })
    }
  }, 180_000)
})
