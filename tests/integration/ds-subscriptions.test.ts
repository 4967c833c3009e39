// The reserved subscription APIs (§6–7) beyond what the conformance suite checks:
// signatures checked by node's own Ed25519, an unreachable webhook that never holds up
// appends and is retried with backoff, explicit links, project roots, pull-wake
// release and lease expiry, and bad input that gets a 4xx and changes nothing.
import { createPublicKey, verify, type JsonWebKey } from "node:crypto"
import { createServer, type Server } from "node:http"
import { afterEach, describe, expect, test } from "vitest"
import { BASE, sleep } from "./helpers"
import { freePort } from "./worker"

let n = 0
const unique = (label: string) => `${label}-${Date.now()}-${process.pid}-${++n}`
const root = (project?: string) => (project ? `${BASE}/v1/${project}/stream` : `${BASE}/v1/stream`)
const subUrl = (id: string, project?: string) => `${root(project)}/__ds/subscriptions/${id}`

interface Delivery {
  rawBody: string
  body: WakeBody
  signature: string
}

interface WakeBody {
  subscription_id: string
  wake_id: string
  generation: number
  callback_url: string
  callback_token: string
  streams: Array<{ path: string; link_type: string; acked_offset: string; tail_offset: string; has_pending: boolean }>
}

/** A webhook receiver on `port` (a free one if 0) that answers each delivery with `answer`. */
async function receiver(answer: unknown = {}, port = 0) {
  const received: Delivery[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8")
      received.push({ rawBody, body: JSON.parse(rawBody), signature: String(req.headers["webhook-signature"] ?? "") })
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
  const address = server.address()
  if (!address || typeof address === "string") throw new Error("no address")
  const r = {
    url: `http://127.0.0.1:${address.port}/hook`,
    received,
    async next(count = received.length + 1, timeoutMs = 8000): Promise<Delivery> {
      await until(() => received.length >= count, timeoutMs, "a webhook delivery")
      return received[count - 1]
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  receivers.push(r)
  return r
}

const receivers: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close()
})

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

async function put(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  })
}

async function json(res: Response): Promise<any> {
  return res.json()
}

async function stream(path: string, body?: unknown, project?: string) {
  const res = await put(`${root(project)}/${path}`, body === undefined ? "" : body)
  expect(res.status, `create ${path}`).toBe(201)
}

async function appendTo(path: string, value: unknown, project?: string) {
  return fetch(`${root(project)}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
  })
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get("content-type")).toContain("application/json")
  expect((await json(res)).error.code).toBe(code)
}

describe("webhook signatures", () => {
  test("verify with the published key, by an independent Ed25519 implementation", async () => {
    const r = await receiver({ done: true })
    const id = unique("sig")
    const prefix = unique("sig")
    const created = await json(await put(subUrl(id), { type: "webhook", pattern: `${prefix}/*`, webhook: { url: r.url } }))
    const jwksRes = await fetch(created.webhook.signing.jwks_url)
    expect(jwksRes.headers.get("content-type")).toBe("application/jwk-set+json")
    expect(jwksRes.headers.get("cache-control")).toBe("public, max-age=300")
    const jwks = (await jwksRes.json()) as { keys: Array<JsonWebKey & { kid: string }> }
    await stream(`${prefix}/a`, { hello: "world" })
    const delivery = await r.next()
    const match = /^t=(\d+),kid=([^,]+),ed25519=([A-Za-z0-9_-]+)$/.exec(delivery.signature)
    expect(match, delivery.signature).not.toBeNull()
    const [, t, kid, signature] = match!
    expect(kid).toBe(created.webhook.signing.kid)
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(300)
    const jwk = jwks.keys.find((k) => k.kid === kid)!
    const publicKey = createPublicKey({ key: jwk, format: "jwk" })
    const sig = Buffer.from(signature, "base64url")
    expect(verify(null, Buffer.from(`${t}.${delivery.rawBody}`), publicKey, sig)).toBe(true)
    // The signature covers the timestamp and every byte of the body.
    expect(verify(null, Buffer.from(`${Number(t) + 1}.${delivery.rawBody}`), publicKey, sig)).toBe(false)
    expect(verify(null, Buffer.from(`${t}.${delivery.rawBody} `), publicKey, sig)).toBe(false)
    // The key is the deployment's: another subscription is signed with the same kid.
    const other = await json(await put(subUrl(unique("sig2")), { type: "webhook", pattern: "x/*", webhook: { url: r.url } }))
    expect(other.webhook.signing.kid).toBe(kid)
    expect(delivery.body.callback_url).toBe(`${subUrl(id)}/callback`)
  })
})

describe("webhook delivery", () => {
  test("an unreachable webhook never holds up appends, and is retried with backoff until it answers", async () => {
    const port = await freePort()
    const id = unique("down")
    const prefix = unique("down")
    const res = await put(subUrl(id), {
      type: "webhook",
      pattern: `${prefix}/*`,
      webhook: { url: `http://127.0.0.1:${port}/hook` },
    })
    expect(res.status).toBe(201)
    await stream(`${prefix}/s`, { n: 0 })
    // Appends go on being acknowledged while every delivery fails.
    for (let i = 1; i <= 10; i++) expect((await appendTo(`${prefix}/s`, { n: i })).status).toBe(204)
    let view: any
    await until(
      async () => {
        view = await json(await fetch(subUrl(id)))
        return view.status === "failed" && view.retry?.attempts >= 1
      },
      8000,
      "the delivery to fail",
    )
    expect(Date.parse(view.retry.next_attempt_at)).toBeGreaterThan(Date.parse(view.created_at))
    // The receiver comes up; a retry reaches it, with all eleven appends pending.
    const r = await receiver({ done: true }, port)
    const delivery = await r.next(1, 70_000)
    const linked = delivery.body.streams.find((s) => s.path === `${prefix}/s`)!
    expect(linked.has_pending).toBe(true)
    await until(
      async () => {
        view = await json(await fetch(subUrl(id)))
        return view.status === "active" && view.streams[0]?.acked_offset === linked.tail_offset
      },
      5000,
      "the retry to be acknowledged",
    )
    expect(view.retry).toBeNull()
    const head = await fetch(`${root()}/${prefix}/s`, { method: "HEAD" })
    expect(linked.tail_offset).toBe(head.headers.get("stream-next-offset"))
  }, 90_000)

  test("a callback that is not done keeps the wake; done with more data pending wakes again", async () => {
    const r = await receiver({})
    const id = unique("again")
    const prefix = unique("again")
    await put(subUrl(id), { type: "webhook", pattern: `${prefix}/**`, webhook: { url: r.url }, lease_ttl_ms: 60_000 })
    await stream(`${prefix}/deep/a`, { n: 1 })
    const first = (await r.next()).body
    expect(first.generation).toBe(1)
    const tail1 = first.streams.find((s) => s.path === `${prefix}/deep/a`)!.tail_offset
    expect((await appendTo(`${prefix}/deep/a`, { n: 2 })).status).toBe(204)
    const callback = (body: unknown) =>
      fetch(first.callback_url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${first.callback_token}` },
        body: JSON.stringify(body),
      })
    // A heartbeat with a partial ack.
    const beat = await callback({ wake_id: first.wake_id, generation: 1, acks: [{ stream: `${prefix}/deep/a`, offset: tail1 }] })
    expect(await json(beat)).toEqual({ ok: true, next_wake: false })
    // Done, with the second append still unacknowledged: the next wake goes out.
    const done = await callback({ wake_id: first.wake_id, generation: 1, done: true })
    expect(await json(done)).toEqual({ ok: true, next_wake: true })
    const second = (await r.next(2)).body
    expect(second.generation).toBe(2)
    expect(second.wake_id).not.toBe(first.wake_id)
    const link = second.streams.find((s) => s.path === `${prefix}/deep/a`)!
    expect(link.acked_offset).toBe(tail1)
    expect(link.has_pending).toBe(true)
    // The first wake's token does not work for the second.
    await expectError(await callback({ wake_id: second.wake_id, generation: 2, done: true }), 409, "FENCED")
  })
})

describe("links", () => {
  test("explicit streams: linked at their tails if they exist, from their first byte if created later", async () => {
    const r = await receiver({})
    const id = unique("explicit")
    const p = unique("explicit")
    await stream(`${p}/old`, { history: true })
    const created = await put(subUrl(id), { type: "webhook", streams: [`${p}/old`, `${p}/later`], webhook: { url: r.url } })
    expect(created.status).toBe(201)
    const view = await json(created)
    const byPath = Object.fromEntries(view.streams.map((s: any) => [s.path, s]))
    expect(byPath[`${p}/old`].link_type).toBe("explicit")
    expect(byPath[`${p}/later`].acked_offset).toBe("0000000000000000_0000000000000000")
    // History is not replayed: nothing was delivered for the existing stream.
    await sleep(300)
    expect(r.received).toHaveLength(0)
    await stream(`${p}/later`, { first: true })
    const wake = (await r.next()).body
    const later = wake.streams.find((s) => s.path === `${p}/later`)!
    expect(later.acked_offset).toBe("0000000000000000_0000000000000000")
    expect(later.has_pending).toBe(true)
    expect(wake.streams.find((s) => s.path === `${p}/old`)!.has_pending).toBe(false)
    // Adding and removing links, with a slash in the path (encoded or not).
    const add = await fetch(`${subUrl(id)}/streams`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ streams: [`${p}/x/y`] }),
    })
    expect(add.status).toBe(204)
    expect((await json(await fetch(subUrl(id)))).streams.map((s: any) => s.path)).toContain(`${p}/x/y`)
    const remove = await fetch(`${subUrl(id)}/streams/${encodeURIComponent(`${p}/x/y`)}`, { method: "DELETE" })
    expect(remove.status).toBe(204)
    const removeAgain = await fetch(`${subUrl(id)}/streams/${p}/x/y`, { method: "DELETE" })
    expect(removeAgain.status).toBe(204)
    expect((await json(await fetch(subUrl(id)))).streams.map((s: any) => s.path)).not.toContain(`${p}/x/y`)
  })

  test("a deleted stream loses its pattern link; created again, all its data is new", async () => {
    const r = await receiver({ done: true })
    const id = unique("del")
    const p = unique("del")
    await stream(`${p}/s`, { old: true })
    await put(subUrl(id), { type: "webhook", pattern: `${p}/*`, webhook: { url: r.url } })
    const paths = async () => (await json(await fetch(subUrl(id)))).streams.map((s: any) => s.path)
    expect(await paths()).toEqual([`${p}/s`])
    expect((await fetch(`${root()}/${p}/s`, { method: "DELETE" })).status).toBe(204)
    await until(async () => (await paths()).length === 0, 5000, "the link to go")
    await stream(`${p}/s`, { fresh: true })
    const wake = (await r.next()).body
    const link = wake.streams.find((s) => s.path === `${p}/s`)!
    expect(link.acked_offset).toBe("0000000000000000_0000000000000000")
    expect(link.has_pending).toBe(true)
  })

  test("a project's subscriptions live under its own root and see only its streams", async () => {
    const r = await receiver({ done: true })
    const project = unique("proj").replace(/[^A-Za-z0-9_-]/g, "").slice(0, 60)
    const id = unique("psub")
    const res = await put(subUrl(id, project), { type: "webhook", pattern: "events/*", webhook: { url: r.url } })
    expect(res.status).toBe(201)
    const view = await json(res)
    expect(view.webhook.signing.jwks_url).toBe(`${root(project)}/__ds/jwks.json`)
    // The same id in the default project is another subscription.
    expect((await fetch(subUrl(id))).status).toBe(404)
    const name = unique("e")
    await stream(`events/${name}`, { where: "default" })
    await stream(`events/${name}`, { where: "project" }, project)
    const delivery = await r.next()
    expect(delivery.body.callback_url).toBe(`${subUrl(id, project)}/callback`)
    await sleep(300)
    expect(r.received).toHaveLength(1)
  })
})

describe("pull-wake", () => {
  test("a release with work pending writes another wake event, and an abandoned lease expires", async () => {
    const id = unique("pull")
    const wake = unique("wake")
    const p = unique("pull")
    await stream(wake, [])
    const created = await put(subUrl(id), { type: "pull-wake", pattern: `${p}/*`, wake_stream: wake, lease_ttl_ms: 1000 })
    expect(created.status).toBe(201)
    const events = async () => (await json(await fetch(`${root()}/${wake}?offset=-1`))) as Array<{ generation: number }>
    await stream(`${p}/a`, { n: 1 })
    await until(async () => (await events()).length === 1, 5000, "the first wake event")
    const claim = async (worker: string) =>
      fetch(`${subUrl(id)}/claim`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ worker }),
      })
    const first = await json(await claim("w1"))
    const release = await fetch(`${subUrl(id)}/release`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${first.token}` },
      body: JSON.stringify({ wake_id: first.wake_id, generation: first.generation }),
    })
    expect(release.status).toBe(204)
    await until(async () => (await events()).length === 2, 5000, "the wake event after a release")
    expect((await events())[1].generation).toBe(first.generation + 1)
    // w2 claims and goes away: after the lease, w3 gets the work with a new generation.
    const second = await json(await claim("w2"))
    await expectError(await claim("w3"), 409, "ALREADY_CLAIMED")
    await sleep(1300)
    const third = await claim("w3")
    expect(third.status).toBe(200)
    expect((await json(third)).generation).toBeGreaterThan(second.generation)
    // w2's token is fenced now.
    const late = await fetch(`${subUrl(id)}/ack`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${second.token}` },
      body: JSON.stringify({ wake_id: second.wake_id, generation: second.generation, done: true }),
    })
    await expectError(late, 409, "FENCED")
  })
})

describe("bad input", () => {
  test("gets a 4xx with a JSON error and changes nothing", async () => {
    const r = await receiver({})
    const id = unique("bad")
    const config = { type: "webhook", pattern: "bad/*", webhook: { url: r.url } }
    expect((await put(subUrl(id), config)).status).toBe(201)
    const before = await json(await fetch(subUrl(id)))
    await expectError(await put(subUrl(id), "{"), 400, "INVALID_BODY")
    await expectError(await put(subUrl(id), { ...config, pattern: "other/*" }), 409, "SUBSCRIPTION_ALREADY_EXISTS")
    for (const url of [
      "http://10.0.0.1/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://metadata.google.internal/",
      "https://[fd00::1]/",
      "http://hooks.example.com/",
      "ftp://hooks.example.com/",
      "https://user:pw@hooks.example.com/",
    ]) {
      await expectError(await put(subUrl(unique("ssrf")), { ...config, webhook: { url } }), 400, "WEBHOOK_URL_REJECTED")
    }
    for (const body of [
      { type: "webhook", webhook: { url: r.url } },
      { type: "nope", pattern: "a" },
      { type: "pull-wake", pattern: "a" },
      { ...config, lease_ttl_ms: 10 },
      { ...config, streams: [1] },
      { ...config, pattern: "__ds/x" },
    ]) {
      await expectError(await put(subUrl(unique("inv")), body), 400, "INVALID_SUBSCRIPTION")
    }
    await expectError(await put(`${root()}/__ds/subscriptions/a%20b`, config), 400, "INVALID_SUBSCRIPTION")
    await expectError(await fetch(subUrl(unique("missing"))), 404, "SUBSCRIPTION_NOT_FOUND")
    await expectError(await fetch(`${root()}/__ds/elsewhere`), 404, "NOT_FOUND")
    await expectError(await fetch(`${subUrl(id)}/claim`), 405, "METHOD_NOT_ALLOWED")
    const post = (action: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${subUrl(id)}/${action}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })
    await expectError(await post("callback", "{}"), 401, "INVALID_TOKEN")
    await expectError(await post("callback", "{}", { authorization: "Bearer not.a.token" }), 401, "INVALID_TOKEN")
    await expectError(await post("callback", "{}", { authorization: "Basic abc" }), 401, "INVALID_AUTHORIZATION")
    await expectError(await post("claim", JSON.stringify({ worker: "w" })), 400, "INVALID_SUBSCRIPTION")
    await expectError(await post("claim", JSON.stringify({})), 400, "INVALID_BODY")
    await expectError(await post("streams", JSON.stringify({ streams: "a" })), 400, "INVALID_SUBSCRIPTION")
    await expectError(await post("streams", "[]"), 400, "INVALID_BODY")
    // A stream path under __ds never names a stream.
    await expectError(await put(`${root()}/__ds/mine`, ""), 404, "NOT_FOUND")
    expect(await json(await fetch(subUrl(id)))).toEqual(before)
    // Deleting is idempotent; afterwards the subscription is gone.
    expect((await fetch(subUrl(id), { method: "DELETE" })).status).toBe(204)
    expect((await fetch(subUrl(id), { method: "DELETE" })).status).toBe(204)
    await expectError(await fetch(subUrl(id)), 404, "SUBSCRIPTION_NOT_FOUND")
  })
})
