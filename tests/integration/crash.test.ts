// Crash safety: the worker is SIGKILLed while idempotent producers append and live
// readers follow, then restarted on the same persisted state. Every acknowledged append
// must survive exactly once, retries must be recognised as duplicates, offsets must keep
// naming the same positions, and readers must resume from their last offset without a
// gap or a duplicate.
import { rmSync } from "node:fs"
import { describe, expect, test } from "vitest"
import { freshState, startWorker, type LocalWorker } from "./worker"

const PRODUCERS = 6
const LONG_POLL_READERS = 2
const SSE_READERS = 2
/** Appends acknowledged to the retrying producers (together) at which the worker is killed. */
const KILL_AT = [1700, 3400, 5100]
/** Appends acknowledged to the retrying producers after which they stop. */
const TOTAL = 5500
/** Cuts to cold storage happen during the run, so some kills may land in one. */
const VARS = { SEGMENT_MAX_MESSAGES: "500" }

const json = { "Content-Type": "application/json" }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type Message = { p: number; s: number } | { o: number; s: number }
const key = (m: Message) => ("p" in m ? `p${m.p}:${m.s}` : `o${m.o}:${m.s}`)

interface Ack {
  key: string
  offset: string
  /** How many kills happened before it was acknowledged. */
  life: number
}

/**
 * The worker across its lives. Clients take the current URL from `ready`, which is
 * replaced by a pending promise just before each kill, so requests that fail during the
 * outage wait for the restarted worker instead of spinning.
 */
class Lives {
  life = 0
  worker!: LocalWorker
  ready!: Promise<string>
  /** How long each outage lasted, from the kill until the restarted worker answered. */
  outagesMs: number[] = []
  private resolve!: (url: string) => void

  constructor(private state: string) {}

  async start() {
    this.ready = new Promise((r) => (this.resolve = r))
    this.worker = await startWorker(this.state, VARS)
    this.resolve(this.worker.url)
  }

  async crash() {
    const started = Date.now()
    this.ready = new Promise((r) => (this.resolve = r))
    this.life += 1
    await this.worker.kill()
    this.worker = await startWorker(this.state, VARS)
    this.outagesMs.push(Date.now() - started)
    this.resolve(this.worker.url)
  }
}

/** Follows a stream with long-polls, resuming from its last offset after any failure. */
function longPollReader(lives: Lives, path: string, stop: { done: boolean }) {
  const r = { values: [] as string[], offset: "-1", offsets: [] as string[], reconnects: 0, lives: new Set<number>(), errors: [] as string[] }
  const run = (async () => {
    let cursor = ""
    while (!stop.done) {
      const base = await lives.ready
      r.lives.add(lives.life)
      try {
        const q = `offset=${r.offset}&live=long-poll${cursor ? `&cursor=${cursor}` : ""}`
        const res = await fetch(`${base}${path}?${q}`, { signal: AbortSignal.timeout(10_000) })
        if (res.status !== 200 && res.status !== 204) {
          r.errors.push(`${res.status} ${await res.text()}`)
          await sleep(50)
          continue
        }
        // The body is read whole before anything is taken from it, so a response cut by
        // a crash changes nothing and is asked for again.
        const values = res.status === 200 ? ((await res.json()) as Message[]) : []
        r.values.push(...values.map(key))
        r.offset = res.headers.get("stream-next-offset")!
        r.offsets.push(r.offset)
        cursor = res.headers.get("stream-cursor") ?? ""
      } catch {
        r.reconnects += 1
        await sleep(20)
      }
    }
  })()
  return { r, run }
}

/** Follows a stream over SSE, reconnecting from the last control event's offset. */
function sseReader(lives: Lives, path: string, stop: { done: boolean; abort: AbortController }) {
  const r = { values: [] as string[], offset: "-1", offsets: [] as string[], reconnects: 0, lives: new Set<number>(), errors: [] as string[] }
  const run = (async () => {
    while (!stop.done) {
      const base = await lives.ready
      r.lives.add(lives.life)
      try {
        const res = await fetch(`${base}${path}?offset=${r.offset}&live=sse`, { signal: stop.abort.signal })
        if (res.status !== 200) {
          r.errors.push(`${res.status} ${await res.text()}`)
          await sleep(50)
          continue
        }
        const reader = res.body!.getReader()
        const decoder = new TextDecoder()
        let buffer = ""
        // Data counts only once the control event after it names the offset past it.
        let pending: Message[] | null = null
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          buffer += decoder.decode(value, { stream: true })
          let end
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n")
            if (event.startsWith("event: data")) pending = JSON.parse(data) as Message[]
            if (event.startsWith("event: control")) {
              if (pending) r.values.push(...pending.map(key))
              pending = null
              r.offset = (JSON.parse(data) as { streamNextOffset: string }).streamNextOffset
              r.offsets.push(r.offset)
            }
          }
        }
      } catch {
        if (!stop.done) r.reconnects += 1
        await sleep(20)
      }
    }
  })()
  return { r, run }
}

/** Reads a JSON stream from `offset` to its tail. */
async function readAll(base: string, path: string, offset = "-1"): Promise<string[]> {
  const values: string[] = []
  for (;;) {
    const res = await fetch(`${base}${path}?offset=${offset}`)
    if (res.status !== 200) throw new Error(`read at ${offset}: ${res.status} ${await res.text()}`)
    values.push(...((await res.json()) as Message[]).map(key))
    offset = res.headers.get("stream-next-offset")!
    if (res.headers.get("stream-up-to-date") === "true") return values
  }
}

describe("crash safety", () => {
  test("SIGKILL during appends loses no acknowledged append and duplicates none", async () => {
    const started = Date.now()
    const state = freshState()
    const lives = new Lives(state)
    const path = `/v1/stream/crash-${Date.now()}`
    const acks: Ack[] = []
    /** How many of `acks` are the retrying producers'. */
    let produced = 0
    const counts = { inFlightAtKills: [] as number[], retriedDuplicate: 0, retriedStored: 0, failedAttempts: 0, serverErrors: 0 }
    const orphans: { life: number; acked: number; unacked: number }[] = []
    let inFlight = 0
    let killing: Promise<void> = Promise.resolve()
    // Set when the test ends, so no loop outlives it after a failed assertion.
    const halt = { done: false }
    const stopReaders = { done: false, abort: new AbortController() }
    const kills: number[] = []
    await lives.start()
    try {
      expect((await fetch(`${lives.worker.url}${path}`, { method: "PUT", headers: json })).status).toBe(201)
      const readers = [
        ...Array.from({ length: LONG_POLL_READERS }, () => ({ kind: "long-poll", ...longPollReader(lives, path, stopReaders) })),
        ...Array.from({ length: SSE_READERS }, () => ({ kind: "sse", ...sseReader(lives, path, stopReaders) })),
      ]

      /** Crashes the worker when the acknowledged count crosses the next threshold. */
      const maybeKill = () => {
        if (kills.length < KILL_AT.length && produced >= KILL_AT[kills.length]) {
          kills.push(produced)
          counts.inFlightAtKills.push(inFlight)
          killing = lives.crash()
        }
      }

      const post = (base: string, headers: Record<string, string>, body: string) => {
        inFlight += 1
        return fetch(`${base}${path}`, { method: "POST", headers: { ...json, ...headers }, body }).finally(() => (inFlight -= 1))
      }

      // Each producer appends its seqs in order; a failed attempt is retried with the same
      // seq against the restarted worker until it is acknowledged.
      const producer = async (p: number) => {
        let seq = 0
        let retrying = false
        while (produced < TOTAL && !halt.done) {
          const base = await lives.ready
          const headers = { "Producer-Id": `producer-${p}`, "Producer-Epoch": "0", "Producer-Seq": `${seq}` }
          let res: Response
          try {
            res = await post(base, headers, JSON.stringify({ p, s: seq }))
          } catch {
            counts.failedAttempts += 1
            retrying = true
            await sleep(10)
            continue
          }
          if (res.status >= 500) {
            await res.text().catch(() => {})
            counts.serverErrors += 1
            retrying = true
            continue
          }
          // 200: stored now. 204: an earlier attempt whose answer was lost was stored.
          expect([200, 204], `producer ${p} seq ${seq}: ${res.status}`).toContain(res.status)
          if (res.status === 204) {
            expect(retrying, `a first attempt of producer ${p} seq ${seq} was a duplicate`).toBe(true)
            expect(res.headers.get("producer-seq")).toBe(`${seq}`)
          }
          if (retrying) counts[res.status === 204 ? "retriedDuplicate" : "retriedStored"] += 1
          retrying = false
          acks.push({ key: `p${p}:${seq}`, offset: res.headers.get("stream-next-offset")!, life: lives.life })
          produced += 1
          seq += 1
          maybeKill()
        }
      }

      // One extra producer per life never retries: whatever it had in flight at the kill
      // stays unacknowledged, and may be stored at most once.
      const orphan = async (life: number) => {
        const o = { life, acked: 0, unacked: 0 }
        orphans.push(o)
        const base = await lives.ready
        for (let seq = 0; lives.life === life && produced < TOTAL && !halt.done; seq++) {
          const headers = { "Producer-Id": `orphan-${life}`, "Producer-Epoch": "0", "Producer-Seq": `${seq}` }
          let res: Response
          try {
            res = await post(base, headers, JSON.stringify({ o: life, s: seq }))
          } catch {
            o.unacked = 1
            return
          }
          expect(res.status, `orphan ${life} seq ${seq}`).toBe(200)
          acks.push({ key: `o${life}:${seq}`, offset: res.headers.get("stream-next-offset")!, life })
          o.acked += 1
        }
      }
      const orphansDone = (async () => {
        for (let life = 0; life < KILL_AT.length; life++) {
          await lives.ready
          await orphan(life)
          while (lives.life === life && !halt.done) await sleep(10)
        }
      })()

      await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)))
      await killing
      await orphansDone
      const appendsDone = Date.now()

      const base = lives.worker.url
      const tailOf = async () => (await fetch(`${base}${path}`, { method: "HEAD" })).headers.get("stream-next-offset")!
      const tail = await tailOf()

      // Producer state survived the crashes: resending the last seq each producer had
      // acknowledged before each kill is a 204 duplicate that stores nothing.
      let resent = 0
      for (let p = 0; p < PRODUCERS; p++) {
        const mine = acks.filter((a) => a.key.startsWith(`p${p}:`))
        for (let life = 0; life < KILL_AT.length; life++) {
          const last = mine.filter((a) => a.life === life).at(-1)!
          const seq = last.key.split(":")[1]
          const headers = { "Producer-Id": `producer-${p}`, "Producer-Epoch": "0", "Producer-Seq": seq }
          const res = await fetch(`${base}${path}`, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify({ p, s: Number(seq) }) })
          expect(res.status, `resending ${last.key}`).toBe(204)
          expect(res.headers.get("producer-seq")).toBe(`${mine.length - 1}`)
          resent += 1
        }
      }
      expect(await tailOf()).toBe(tail)
      const all = await readAll(base, path)

      // Every acknowledged append is there exactly once.
      const position = new Map<string, number>()
      let duplicated = 0
      all.forEach((k, i) => {
        if (position.has(k)) duplicated += 1
        position.set(k, i)
      })
      const lost = acks.filter((a) => !position.has(a.key)).length
      expect(duplicated).toBe(0)
      expect(lost).toBe(0)

      // Per producer: seqs 0..n-1, in order, nothing else. With every failure retried,
      // nothing unacknowledged is left over.
      for (let p = 0; p < PRODUCERS; p++) {
        const mine = all.filter((k) => k.startsWith(`p${p}:`))
        const acked = acks.filter((a) => a.key.startsWith(`p${p}:`)).length
        expect(mine).toEqual(Array.from({ length: acked }, (_, s) => `p${p}:${s}`))
      }
      // Orphans: a prefix of their seqs; the one in flight at the kill at most once.
      let orphansStored = 0
      for (const o of orphans) {
        const mine = all.filter((k) => k.startsWith(`o${o.life}:`))
        expect(mine.slice(0, o.acked)).toEqual(Array.from({ length: o.acked }, (_, s) => `o${o.life}:${s}`))
        expect(mine.length - o.acked).toBeLessThanOrEqual(o.unacked)
        orphansStored += mine.length - o.acked
      }
      expect(all.length).toBe(acks.length + orphansStored)

      // Offsets: unique, in the stream's order, and still naming the same positions after
      // the crashes. Each acknowledged offset is the one just past its message.
      const byOffset = [...acks].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0))
      expect(new Set(acks.map((a) => a.offset)).size).toBe(acks.length)
      const order = byOffset.map((a) => position.get(a.key)!)
      expect(order.every((pos, i) => i === 0 || pos > order[i - 1])).toBe(true)
      const samples = new Set<Ack>()
      for (let life = 0; life < KILL_AT.length; life++) {
        const before = acks.filter((a) => a.life === life)
        before.slice(-5).forEach((a) => samples.add(a))
        for (let i = 0; i < 5; i++) samples.add(before[Math.floor(Math.random() * before.length)])
      }
      for (const a of samples) {
        expect(await readAll(base, path, a.offset), `suffix after ${a.key} at ${a.offset}`).toEqual(all.slice(position.get(a.key)! + 1))
      }

      // Live readers end at the tail with exactly the stream's content.
      const deadline = Date.now() + 30_000
      while (readers.some((x) => x.r.offset !== tail) && Date.now() < deadline) await sleep(50)
      stopReaders.done = true
      stopReaders.abort.abort()
      await Promise.all(readers.map((x) => x.run))
      for (const x of readers) {
        expect(x.r.errors, x.kind).toEqual([])
        expect(x.r.offset, x.kind).toBe(tail)
        expect(x.r.values.length, x.kind).toBe(all.length)
        expect(x.r.values, x.kind).toEqual(all)
        // Each reader kept following through every life of the worker.
        expect(x.r.lives.size, x.kind).toBe(KILL_AT.length + 1)
        expect(x.r.offsets.every((o, i) => i === 0 || o >= x.r.offsets[i - 1]), x.kind).toBe(true)
      }

      const seconds = (ms: number) => (ms / 1000).toFixed(1)
      const orphanAcks = orphans.reduce((n, o) => n + o.acked, 0)
      const orphanUnacked = orphans.reduce((n, o) => n + o.unacked, 0)
      console.log(
        [
          `crash-safety: producers=${PRODUCERS} (+1 never-retrying per life)`,
          `acknowledged=${acks.length} (${acks.length - orphanAcks} retrying + ${orphanAcks} never-retrying)`,
          `kills=${kills.length} (SIGKILL at ${kills.join("/")} acknowledged, ${counts.inFlightAtKills.join("/")} appends in flight)`,
          `lost=${lost} duplicated=${duplicated};`,
          `retries: ${counts.retriedDuplicate} answered 204 duplicate, ${counts.retriedStored} stored (${counts.failedAttempts} failed attempts, ${counts.serverErrors} 5xx);`,
          `${resent} resends of pre-kill seqs all 204;`,
          `never-retried unacknowledged: ${orphanUnacked}, stored ${orphansStored} (at most once);`,
          `readers: ${LONG_POLL_READERS} long-poll + ${SSE_READERS} SSE ended with all ${all.length} messages in order, no gap, no duplicate`,
          `(reconnects ${readers.map((x) => x.r.reconnects).join("/")});`,
          `${samples.size} pre-crash offsets read the same suffix;`,
          `appends ${seconds(appendsDone - started)} s (outages ${lives.outagesMs.map(seconds).join("/")} s), total ${seconds(Date.now() - started)} s`,
        ].join(" "),
      )
    } finally {
      halt.done = true
      stopReaders.done = true
      stopReaders.abort.abort()
      await killing.catch(() => {})
      await lives.worker.stop()
      rmSync(state, { recursive: true, force: true })
    }
  }, 240_000)
})
