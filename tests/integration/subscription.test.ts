// The subscription layer against real local workers: a core and two subscription workers
// under wrangler dev — one on core's service binding, one reaching core by URL through a
// fault proxy — with auth on, real Durable Objects, and real local queues and consumers.
import { createServer, request as httpRequest, type Server } from "node:http"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { signToken as sign } from "./helpers"
import { freshState, startWorker, startWorkers, type LocalWorker } from "./worker"

const SECRETS: Record<string, string> = { _default: "default-secret", acme: "acme-secret" }

function bearer(project: string, scope: "read" | "write", extra: Record<string, unknown> = {}) {
  const claims = { sub: project, scope, exp: Math.floor(Date.now() / 1000) + 600, ...extra }
  return { Authorization: `Bearer ${sign(SECRETS[project], claims)}` }
}
const W = bearer("_default", "write")
const R = bearer("_default", "read")
const JSON_TYPE = { "Content-Type": "application/json" }

let core: LocalWorker
let sub: LocalWorker
let byUrl: LocalWorker
let proxy: Server
/** While set, the proxy answers 503 to every write into a session stream. */
let failSessionWrites = false
let n = 0
const unique = (label: string) => `${label}-${Date.now().toString(36)}-${++n}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Forwards to core, failing session-stream writes on demand. */
function startProxy(target: string): Promise<string> {
  const upstream = new URL(target)
  proxy = createServer((req, res) => {
    if (failSessionWrites && req.method === "POST" && req.url?.includes("/stream/session:")) {
      req.resume()
      res.writeHead(503, { "Content-Type": "application/json" })
      res.end(JSON.stringify({ error: { code: "UNAVAILABLE", message: "injected" } }))
      return
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on("error", () => res.destroy())
    req.pipe(forward)
  })
  return new Promise((resolve) => proxy.listen(0, "127.0.0.1", () => {
    const address = proxy.address()
    resolve(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`)
  }))
}

beforeAll(async () => {
  const registry = mkdtempSync(join(tmpdir(), "wrangler-registry-"))
  const shared = { WRANGLER_REGISTRY_PATH: registry }
  core = await startWorker(freshState(), {}, "tests/subscription/core.toml", shared)
  const proxied = await startProxy(core.url)
  ;[sub, byUrl] = await startWorkers([
    startWorker(freshState(), {}, "tests/subscription/subscription.toml", shared),
    startWorker(freshState(), { CORE_URL: proxied }, "tests/subscription/subscription-url.toml", shared),
  ])
}, 180_000)

afterAll(async () => {
  await Promise.all([sub?.stop(), byUrl?.stop(), core?.stop()])
  proxy?.close()
})

/** A core JSON stream, created with a write token. */
async function source(label: string, contentType = "application/json", body?: string): Promise<string> {
  const id = unique(label)
  const res = await fetch(`${core.url}/v1/stream/${id}`, { method: "PUT", headers: { ...W, "Content-Type": contentType }, body })
  expect(res.status).toBe(201)
  return id
}

async function subscribe(worker: LocalWorker, streamId: string, sessionId: string, headers: Record<string, string> = W) {
  return fetch(`${worker.url}/v1/subscribe`, {
    method: "POST",
    headers: { ...headers, ...JSON_TYPE },
    body: JSON.stringify({ streamId, sessionId }),
  })
}

async function subscribed(worker: LocalWorker, streamId: string, sessionId: string) {
  const res = await subscribe(worker, streamId, sessionId)
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as { sessionStreamPath: string; expiresAt: number; isNewSession: boolean; readerKey?: string }
}

async function publish(worker: LocalWorker, streamId: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return fetch(`${worker.url}/v1/publish/${streamId}`, { method: "POST", headers: { ...W, ...JSON_TYPE, ...headers }, body })
}

function fanout(res: Response) {
  const h = (name: string) => res.headers.get(`stream-fanout-${name}`)
  return { count: Number(h("count")), successes: Number(h("successes")), failures: Number(h("failures")), mode: h("mode") }
}

/** Everything in a session's stream, as core serves it to a reader of the session. */
async function sessionMessages(sessionId: string): Promise<unknown[]> {
  const res = await fetch(`${core.url}/v1/stream/session:${sessionId}?offset=-1`, { headers: R })
  expect(res.status).toBe(200)
  return (await res.json()) as unknown[]
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

describe("subscribe", () => {
  test("creates the session and its stream once, and answers in the reference's shape", async () => {
    const stream = await source("sub")
    const session = unique("s")
    const first = await subscribed(sub, stream, session)
    expect(first.isNewSession).toBe(true)
    expect(first.sessionStreamPath).toBe(`/v1/stream/session:${session}`)
    expect(first.expiresAt).toBeGreaterThan(Date.now() + 800_000)
    expect(first.readerKey).toMatch(/^rk_[0-9a-f]{32}$/)
    const again = await subscribed(sub, stream, session)
    expect(again.isNewSession).toBe(false)
    const head = await fetch(`${core.url}${first.sessionStreamPath}`, { method: "HEAD", headers: R })
    expect(head.status).toBe(200)
    expect(head.headers.get("content-type")).toBe("application/json")
  })

  test("a missing source is 404, bad ids and bodies are 400, another content type is 409", async () => {
    const missing = await subscribe(sub, unique("nothing"), unique("s"))
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("STREAM_NOT_FOUND")
    const stream = await source("codes")
    for (const [body, code] of [
      [{ streamId: stream, sessionId: "a b" }, "INVALID_SESSION_ID"],
      [{ streamId: stream, sessionId: "x".repeat(129) }, "INVALID_SESSION_ID"],
      [{ streamId: "session:u", sessionId: "u" }, "INVALID_STREAM_ID"],
      [{ streamId: stream }, "INVALID_BODY"],
    ] as const) {
      const res = await fetch(`${sub.url}/v1/subscribe`, { method: "POST", headers: { ...W, ...JSON_TYPE }, body: JSON.stringify(body) })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code)
    }
    const text = await source("text", "text/plain")
    const session = unique("s")
    await subscribed(sub, stream, session)
    const mismatch = await subscribe(sub, text, session)
    expect(mismatch.status).toBe(409)
  })

  test("the project form of every route reaches the same sessions", async () => {
    const id = unique("acme-src")
    const AW = bearer("acme", "write")
    expect((await fetch(`${core.url}/v1/acme/stream/${id}`, { method: "PUT", headers: { ...AW, ...JSON_TYPE } })).status).toBe(201)
    const session = unique("s")
    const res = await fetch(`${sub.url}/v1/acme/subscribe`, { method: "POST", headers: { ...AW, ...JSON_TYPE }, body: JSON.stringify({ streamId: id, sessionId: session }) })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { sessionStreamPath: string }).sessionStreamPath).toBe(`/v1/acme/stream/session:${session}`)
    const published = await fetch(`${sub.url}/v1/acme/publish/${id}`, { method: "POST", headers: { ...AW, ...JSON_TYPE }, body: '{"n":1}' })
    expect(fanout(published)).toEqual({ count: 1, successes: 1, failures: 0, mode: "inline" })
    const info = await fetch(`${sub.url}/v1/acme/session/${session}`, { headers: bearer("acme", "read") })
    expect(((await info.json()) as { subscriptions: { streamId: string }[] }).subscriptions.map((s) => s.streamId)).toEqual([id])
    // The default project does not have it.
    expect((await fetch(`${sub.url}/v1/session/${session}`, { headers: R })).status).toBe(404)
  })
})

describe("publish", () => {
  test("appends to the source and copies the messages verbatim into every session, once", async () => {
    const stream = await source("pub")
    const sessions = [unique("a"), unique("b"), unique("c")]
    for (const s of sessions) await subscribed(sub, stream, s)
    const res = await publish(sub, stream, '[{"user":"ada","text":"hé"},{"n":2}]')
    expect(res.status).toBe(204)
    expect(res.headers.get("stream-next-offset")).toMatch(/^\d{16}_\d{16}$/)
    expect(fanout(res)).toEqual({ count: 3, successes: 3, failures: 0, mode: "inline" })
    for (const s of sessions) expect(await sessionMessages(s)).toEqual([{ user: "ada", text: "hé" }, { n: 2 }])
    const src = await fetch(`${core.url}/v1/stream/${stream}?offset=-1`, { headers: R })
    expect(await src.json()).toEqual([{ user: "ada", text: "hé" }, { n: 2 }])
  })

  test("text and binary streams are copied byte for byte", async () => {
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256)
    const stream = await source("bin", "application/octet-stream")
    const session = unique("s")
    await subscribed(sub, stream, session)
    const res = await publish(sub, stream, bytes, { "Content-Type": "application/octet-stream" })
    expect(fanout(res).successes).toBe(1)
    const copy = await fetch(`${core.url}/v1/stream/session:${session}?offset=-1`, { headers: R })
    expect(Buffer.compare(Buffer.from(await copy.arrayBuffer()), Buffer.from(bytes))).toBe(0)
  })

  test("a retried publish with the same producer headers is stored once, everywhere", async () => {
    const stream = await source("idem")
    const session = unique("s")
    await subscribed(sub, stream, session)
    const producer = { "Producer-Id": "p1", "Producer-Epoch": "0", "Producer-Seq": "0" }
    const first = await publish(sub, stream, '{"once":true}', producer)
    expect(first.status).toBe(200)
    const retry = await publish(sub, stream, '{"once":true}', producer)
    expect(retry.status).toBe(204)
    expect(retry.headers.get("stream-next-offset")).toBe(first.headers.get("stream-next-offset"))
    expect(await sessionMessages(session)).toEqual([{ once: true }])
  })

  test("a late subscriber gets the messages published from then on, and no earlier ones", async () => {
    const stream = await source("late")
    const early = unique("early")
    await subscribed(sub, stream, early)
    await publish(sub, stream, '{"n":1}')
    const late = unique("late")
    await subscribed(sub, stream, late)
    await publish(sub, stream, '{"n":2}')
    await publish(sub, stream, '{"n":3}')
    expect(await sessionMessages(early)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(await sessionMessages(late)).toEqual([{ n: 2 }, { n: 3 }])
  })

  test("10 concurrent publishers: every session has every message once, in the source's order", async () => {
    const stream = await source("order")
    const sessions = [unique("o1"), unique("o2"), unique("o3")]
    for (const s of sessions) await subscribed(sub, stream, s)
    await Promise.all(
      Array.from({ length: 10 }, async (_, p) => {
        for (let i = 0; i < 10; i++) {
          const res = await publish(sub, stream, JSON.stringify({ p, i }))
          expect(res.status).toBe(204)
        }
      }),
    )
    const src = (await (await fetch(`${core.url}/v1/stream/${stream}?offset=-1`, { headers: R })).json()) as unknown[]
    expect(src).toHaveLength(100)
    for (const s of sessions) expect(await sessionMessages(s)).toEqual(src)
  }, 60_000)

  test("without a Content-Type, or to a missing stream, nothing is written or fanned out", async () => {
    const stream = await source("errors")
    // A string body would get fetch's own text/plain type.
    const noType = await fetch(`${sub.url}/v1/publish/${stream}`, { method: "POST", headers: W, body: new TextEncoder().encode("x") })
    expect(noType.status).toBe(400)
    const missing = await publish(sub, unique("missing"), '{"n":1}')
    expect(missing.status).toBe(404)
    expect(fanout(missing)).toEqual({ count: 0, successes: 0, failures: 0, mode: "none" })
  })

  test("session streams are read with core's live paths: long-poll and SSE", async () => {
    const stream = await source("live")
    const session = unique("s")
    const { sessionStreamPath } = await subscribed(sub, stream, session)
    const tail = (await fetch(`${core.url}${sessionStreamPath}`, { method: "HEAD", headers: R })).headers.get("stream-next-offset")
    const waiting = fetch(`${core.url}${sessionStreamPath}?offset=${tail}&live=long-poll`, { headers: R })
    const controller = new AbortController()
    const sse = await fetch(`${core.url}${sessionStreamPath}?offset=${tail}&live=sse`, { headers: R, signal: controller.signal })
    await sleep(200)
    await publish(sub, stream, '{"live":1}')
    const polled = await waiting
    expect(polled.status).toBe(200)
    expect(await polled.json()).toEqual([{ live: 1 }])
    const reader = sse.body!.getReader()
    let text = ""
    while (!text.includes('"live":1')) text += new TextDecoder().decode((await reader.read()).value)
    controller.abort()
  })
})

describe("sessions", () => {
  test("get answers 404 for none and lists subscriptions; unsubscribe stops delivery and is idempotent", async () => {
    expect((await fetch(`${sub.url}/v1/session/${unique("none")}`, { headers: R })).status).toBe(404)
    const [a, b] = [await source("ua"), await source("ub")]
    const session = unique("s")
    await subscribed(sub, a, session)
    await subscribed(sub, b, session)
    const info = (await (await fetch(`${sub.url}/v1/session/${session}`, { headers: R })).json()) as {
      subscriptions: { streamId: string; subscribedAt: number }[]
    }
    expect(info.subscriptions.map((s) => s.streamId).sort()).toEqual([a, b].sort())
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${sub.url}/v1/unsubscribe`, { method: "DELETE", headers: { ...W, ...JSON_TYPE }, body: JSON.stringify({ streamId: a, sessionId: session }) })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ sessionId: session, streamId: a, unsubscribed: true })
    }
    expect(fanout(await publish(sub, a, '{"from":"a"}')).count).toBe(0)
    await publish(sub, b, '{"from":"b"}')
    expect(await sessionMessages(session)).toEqual([{ from: "b" }])
  })

  test("delete clears the session from every source, deletes its stream, and a new session starts clean", async () => {
    const [a, b] = [await source("da"), await source("db")]
    const session = unique("s")
    await subscribed(sub, a, session)
    await subscribed(sub, b, session)
    await publish(sub, a, '{"before":1}')
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${sub.url}/v1/session/${session}`, { method: "DELETE", headers: W })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ sessionId: session, deleted: true })
    }
    expect((await fetch(`${core.url}/v1/stream/session:${session}`, { method: "HEAD", headers: R })).status).toBe(404)
    expect(fanout(await publish(sub, a, '{"after":1}')).count).toBe(0)
    expect(fanout(await publish(sub, b, '{"after":1}')).count).toBe(0)
    // Subscribing again to one source brings no ghost of the other.
    expect((await subscribed(sub, a, session)).isNewSession).toBe(true)
    await publish(sub, b, '{"ghost":1}')
    await publish(sub, a, '{"fresh":1}')
    expect(await sessionMessages(session)).toEqual([{ fresh: 1 }])
  })

  test("a touch really extends the session and its stream; without one, both expire", async () => {
    const stream = await source("ttl")
    const [touched, left] = [unique("touched"), unique("left")]
    const first = await subscribed(byUrl, stream, touched)
    await subscribed(byUrl, stream, left)
    await sleep(3000)
    const touch = await fetch(`${byUrl.url}/v1/session/${touched}/touch`, { method: "POST", headers: W })
    expect(touch.status).toBe(200)
    const { expiresAt } = (await touch.json()) as { expiresAt: number }
    expect(expiresAt).toBeGreaterThan(first.expiresAt + 2500)
    await sleep(3000)
    // 6 s after subscribing (TTL 5 s): the touched session lives on, the other is gone.
    expect((await fetch(`${byUrl.url}/v1/session/${touched}`, { headers: R })).status).toBe(200)
    expect((await fetch(`${core.url}/v1/stream/session:${touched}`, { method: "HEAD", headers: R })).status).toBe(200)
    await until("the untouched session to expire", async () =>
      (await fetch(`${byUrl.url}/v1/session/${left}`, { headers: R })).status === 404 ? true : undefined,
    )
    expect((await fetch(`${core.url}/v1/stream/session:${left}`, { method: "HEAD", headers: R })).status).toBe(404)
    expect((await fetch(`${byUrl.url}/v1/session/${unique("none")}/touch`, { method: "POST", headers: W })).status).toBe(404)
    // Once expired it left its source's subscribers.
    await until("the touched session to expire too", async () =>
      (await fetch(`${byUrl.url}/v1/session/${touched}`, { headers: R })).status === 404 ? true : undefined,
    )
    expect(fanout(await publish(byUrl, stream, '{"n":1}')).count).toBe(0)
  }, 30_000)
})

describe("fan-out modes", () => {
  test("above the threshold the queue and its consumer deliver, also messages above 128 KiB", async () => {
    const stream = await source("queued")
    const sessions = Array.from({ length: 5 }, (_, i) => unique(`q${i}`))
    for (const s of sessions) await subscribed(byUrl, stream, s)
    const big = JSON.stringify({ blob: "x".repeat(200 * 1024) })
    const res = await publish(byUrl, stream, big)
    expect(fanout(res)).toEqual({ count: 5, successes: 5, failures: 0, mode: "queued" })
    const small = await publish(byUrl, stream, '{"n":2}')
    expect(fanout(small).mode).toBe("queued")
    for (const s of sessions) {
      const got = await until(`session ${s} to get both messages`, async () => {
        const messages = await sessionMessages(s)
        return messages.length >= 2 ? messages : undefined
      })
      expect(got).toEqual([JSON.parse(big), { n: 2 }])
    }
  }, 60_000)

  test("the breaker opens after five failing fan-outs, and sessions catch up exactly once after recovery", async () => {
    const stream = await source("breaker")
    const session = unique("s")
    await subscribed(byUrl, stream, session)
    failSessionWrites = true
    try {
      for (let i = 0; i < 5; i++) {
        const res = await publish(byUrl, stream, JSON.stringify({ i }))
        expect(res.status).toBe(204)
        expect(fanout(res)).toEqual({ count: 1, successes: 0, failures: 1, mode: "inline" })
      }
      const open = await publish(byUrl, stream, '{"i":5}')
      expect(fanout(open).mode).toBe("circuit-open")
    } finally {
      failSessionWrites = false
    }
    await sleep(2100)
    // Keep the session (TTL 5 s) alive through the rest of the test.
    expect((await fetch(`${byUrl.url}/v1/session/${session}/touch`, { method: "POST", headers: W })).status).toBe(200)
    const recovered = await publish(byUrl, stream, '{"i":6}')
    expect(fanout(recovered)).toEqual({ count: 1, successes: 1, failures: 0, mode: "inline" })
    const expected = Array.from({ length: 7 }, (_, i) => ({ i }))
    expect(await until("the session to have every message", async () => {
      const messages = await sessionMessages(session)
      return messages.length >= 7 ? messages : undefined
    })).toEqual(expected)
  }, 60_000)

  test("1,000 subscribers of one stream all get every message once", async () => {
    const stream = await source("thousand")
    const sessions = Array.from({ length: 1000 }, (_, i) => `k${n}-${i}`)
    for (let i = 0; i < sessions.length; i += 25) {
      await Promise.all(sessions.slice(i, i + 25).map((s) => subscribed(sub, stream, s)))
    }
    for (let k = 0; k < 3; k++) {
      const res = await publish(sub, stream, JSON.stringify({ k }))
      expect(fanout(res)).toMatchObject({ count: 1000, mode: "queued", failures: 0 })
    }
    const expected = [{ k: 0 }, { k: 1 }, { k: 2 }]
    for (let i = 0; i < sessions.length; i += 50) {
      await Promise.all(sessions.slice(i, i + 50).map((s) => until(`session ${s}`, async () => {
        const messages = await sessionMessages(s)
        if (messages.length < 3) return undefined
        expect(messages).toEqual(expected)
        return true
      }, 60_000)))
    }
  }, 300_000)
})

describe("auth", () => {
  test("publishing needs write scope on the source; sessions need a token for them", async () => {
    const stream = await source("auth")
    const session = unique("s")
    const anonymous = await subscribe(sub, stream, session, {})
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get("www-authenticate")).toContain("Bearer")
    expect((await subscribe(sub, stream, session, R)).status).toBe(403)
    const own = bearer("_default", "read", { stream_id: session })
    expect((await subscribe(sub, stream, session, own)).status).toBe(200)
    expect((await subscribe(sub, stream, unique("other"), own)).status).toBe(403)
    const readPublish = await publish(sub, stream, '{"n":1}', R)
    expect(readPublish.status).toBe(403)
    expect(((await readPublish.json()) as { error: { message: string } }).error.message).toContain("write scope")
    expect((await fetch(`${sub.url}/v1/session/${session}`, { headers: own })).status).toBe(200)
    expect((await fetch(`${sub.url}/v1/session/${session}`, { headers: bearer("_default", "read", { stream_id: "else" }) })).status).toBe(403)
    // Another project's token is checked against this project's secret: not valid here.
    expect((await fetch(`${sub.url}/v1/session/${session}`, { headers: bearer("acme", "write") })).status).toBe(401)
    const forged = { Authorization: `Bearer ${sign("guess", { sub: "_default", scope: "write", exp: 9e9 })}` }
    expect((await publish(sub, stream, '{"n":1}', forged)).status).toBe(401)
  })
})
