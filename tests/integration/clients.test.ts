// The official TypeScript client (@durable-streams/client) against the worker: whatever
// it writes, each of its readers must get back exactly, once and in order.
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client"
import type { LiveMode } from "@durable-streams/client"
import { describe, expect, test } from "vitest"
import { BASE, sleep, streamPath } from "./helpers"

const streamUrl = (label: string) => `${BASE}${streamPath(`client-${label}`)}`

/** A fetch that records each request as "METHOD url", to see which modes the client used. */
function recordingFetch() {
  const requests: string[] = []
  const fetchFn: typeof fetch = (input, init) => {
    const target = input instanceof Request ? input.url : String(input)
    requests.push(`${init?.method ?? "GET"} ${target}`)
    return fetch(input, init)
  }
  return { fetch: fetchFn, requests }
}

/** The `live` query parameter of each recorded GET, "" for a catch-up read. */
function liveParams(requests: string[]): string[] {
  return requests.filter((r) => r.startsWith("GET ")).map((r) => new URL(r.slice(4)).searchParams.get("live") ?? "")
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** `promise`, or a failure saying `what()` once `ms` pass. */
async function within<T>(ms: number, promise: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms: ${what()}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Deterministic bytes (xorshift32), so a failure can be reproduced. */
function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Byte equality that reports the first differing index instead of dumping 300 KB. */
function expectSameBytes(got: Uint8Array, want: Uint8Array) {
  expect(got.length).toBe(want.length)
  const first = want.findIndex((b, i) => got[i] !== b)
  expect(first, "index of the first differing byte").toBe(-1)
}

describe("TypeScript client: idempotent producer", { timeout: 15_000 }, () => {
  test("2,000 JSON events through pipelined batches read back exactly, even with replayed requests", async () => {
    const url = streamUrl("producer")
    const handle = await DurableStream.create({ url, contentType: "application/json" })
    // Every fifth accepted batch is sent again, as a client whose response was lost
    // would retry it: the server must answer the replay 204 and store nothing.
    const replayStatuses: number[] = []
    let posts = 0
    const replaying: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      posts += 1
      if (init?.method === "POST" && res.status === 200 && posts % 5 === 0) {
        const again = await fetch(input, init)
        replayStatuses.push(again.status)
        return again
      }
      return res
    }
    const errors: Error[] = []
    // Small batches, so 2,000 events become about a hundred requests, five in flight.
    const producer = new IdempotentProducer(handle, "events-writer", {
      maxBatchBytes: 1024,
      maxInFlight: 5,
      fetch: replaying,
      onError: (e) => errors.push(e),
    })
    const events = Array.from({ length: 2000 }, (_, i) => ({ n: i, id: `event-${i}`, text: i % 7 === 0 ? "ünïcødé ✓" : "plain" }))
    for (const e of events) producer.append(JSON.stringify(e))
    await producer.close()
    expect(errors).toEqual([])
    expect(posts).toBeGreaterThan(50)
    expect(replayStatuses.length).toBeGreaterThan(5)
    expect(new Set(replayStatuses)).toEqual(new Set([204]))

    const res = await stream<(typeof events)[number]>({ url, live: false })
    const items = await res.json()
    expect(items.length).toBe(2000)
    expect(items).toEqual(events)
    expect(res.streamClosed).toBe(true)
  })
})

describe("TypeScript client: readers", { timeout: 15_000 }, () => {
  test("the catch-up reader (live: false) reads a JSON stream to its tail", async () => {
    const url = streamUrl("catch-up")
    const handle = await DurableStream.create({ url, contentType: "application/json" })
    const written = Array.from({ length: 500 }, (_, i) => ({ i, nested: { list: [i, `${i}`, null, true] } }))
    for (let at = 0; at < written.length; at += 100) {
      await Promise.all(written.slice(at, at + 100).map((m) => handle.append(JSON.stringify(m))))
    }
    const rec = recordingFetch()
    const res = await stream<(typeof written)[number]>({ url, live: false, fetch: rec.fetch })
    expect(await res.json()).toEqual(written)
    expect(res.upToDate).toBe(true)
    expect(liveParams(rec.requests)).toEqual([""])
  })

  // The promise helpers stop at the first up-to-date response whatever the live mode, so
  // this reads only the stream's existing data. It cannot use live: false: the client
  // (0.2.7) then stops after the first response even when it is not up to date.
  test("the catch-up reader follows a multi-page JSON stream to its tail", async () => {
    const url = streamUrl("catch-up-pages")
    const handle = await DurableStream.create({ url, contentType: "application/json" })
    // About 1.3 MB: more than one read's worth, so the reader must follow Stream-Next-Offset.
    const written: { i: number; pad: string }[] = []
    for (let round = 0; round < 8; round++) {
      const batch = Array.from({ length: 40 }, (_, k) => ({ i: round * 40 + k, pad: `${round}`.repeat(4000) }))
      written.push(...batch)
      await Promise.all(batch.map((m) => handle.append(JSON.stringify(m))))
    }

    const rec = recordingFetch()
    const res = await stream<(typeof written)[number]>({ url, fetch: rec.fetch })
    const items = await res.json()
    expect(items.length).toBe(written.length)
    expect(items).toEqual(written)
    expect(res.upToDate).toBe(true)
    // Several pages, and never a live request.
    expect(liveParams(rec.requests).length).toBeGreaterThan(1)
    expect(new Set(liveParams(rec.requests))).toEqual(new Set([""]))
  })

  /**
   * Starts `live` reader at the start of a JSON stream holding a few messages, then
   * appends more in rounds while it waits and closes the stream; returns what the
   * reader got by the time it saw the stream closed, what was written and its requests.
   */
  async function followJson(live: Exclude<LiveMode, boolean>) {
    const url = streamUrl(`live-${live}`)
    const handle = await DurableStream.create({ url, contentType: "application/json" })
    const written: { round: number; k: number }[] = []
    for (let k = 0; k < 3; k++) {
      written.push({ round: -1, k })
      await handle.append(JSON.stringify({ round: -1, k }))
    }
    const rec = recordingFetch()
    const res = await stream<(typeof written)[number]>({ url, offset: "-1", live, fetch: rec.fetch })
    const received: (typeof written)[number][] = []
    const done = new Promise<void>((resolve) => {
      res.subscribeJson((batch) => {
        received.push(...batch.items)
        if (batch.streamClosed) resolve()
      })
    })
    // Append only once the reader is waiting at the tail in the live mode under test.
    await waitFor(`a ${live} request`, () => liveParams(rec.requests).includes(live))
    await sleep(100)
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 10 }, (_, k) => ({ round, k }))
      written.push(...batch)
      // Appends that overlap are batched by the client into one POST.
      await Promise.all(batch.map((m) => handle.append(JSON.stringify(m))))
      await sleep(50)
    }
    await handle.close()
    await within(5000, done, () => `the ${live} reader saw no close; it got ${received.length} of ${written.length}`)
    res.cancel()
    return { received, written, requests: rec.requests }
  }

  test("the SSE reader gets existing and appended messages exactly once, in order, on one connection", async () => {
    const { received, written, requests } = await followJson("sse")
    expect(received).toEqual(written)
    // A catch-up read, then a single SSE connection: no fallback to long-poll, no reconnects.
    expect(liveParams(requests)).toEqual(["", "sse"])
  })

  test("the long-poll reader gets existing and appended messages exactly once, in order", async () => {
    const { received, written, requests } = await followJson("long-poll")
    expect(received).toEqual(written)
    const modes = liveParams(requests)
    expect(modes[0]).toBe("")
    // Woken by appends more than once; never SSE.
    expect(modes.filter((m) => m === "long-poll").length).toBeGreaterThan(2)
    expect(modes).not.toContain("sse")
  })
})

describe("TypeScript client: binary streams", { timeout: 15_000 }, () => {
  const SIZE = 300 * 1024
  const data = seededBytes(SIZE, 0x5eed1234)

  test("the test data is not UTF-8", () => {
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(data)).toThrow()
  })

  test("300 KB of non-UTF-8 bytes read back byte for byte by the catch-up reader", async () => {
    const url = streamUrl("binary")
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream", batching: false })
    for (let at = 0; at < SIZE; at += 100 * 1024) await handle.append(data.subarray(at, at + 100 * 1024))
    const res = await stream({ url, live: false })
    expectSameBytes(await res.body(), data)
    expect(res.contentType).toBe("application/octet-stream")
  })

  test("an SSE reader of a binary stream decodes the base64 events back to the same bytes", async () => {
    const url = streamUrl("binary-sse")
    const handle = await DurableStream.create({ url, contentType: "application/octet-stream", batching: false })
    // The first part is there before the reader starts, the rest arrives live.
    await handle.append(data.subarray(0, 1000))
    const rec = recordingFetch()
    const res = await stream({ url, offset: "-1", live: "sse", fetch: rec.fetch })
    const parts: Uint8Array[] = []
    const done = new Promise<void>((resolve) => {
      res.subscribeBytes((chunk) => {
        parts.push(chunk.data)
        if (chunk.streamClosed) resolve()
      })
    })
    await waitFor("an SSE request", () => liveParams(rec.requests).includes("sse"))
    await sleep(100)
    for (let at = 1000; at < SIZE; at += 60 * 1024) {
      await handle.append(data.subarray(at, Math.min(SIZE, at + 60 * 1024)))
      await sleep(20)
    }
    await handle.close()
    await within(5000, done, () => `the reader saw no close; it got ${concat(parts).length} of ${SIZE} bytes`)
    res.cancel()
    expectSameBytes(concat(parts), data)
    expect(liveParams(rec.requests)).toEqual(["", "sse"])
  })
})
