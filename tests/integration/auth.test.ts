// Auth and cache safety against a real local worker with auth on (tests/auth/wrangler.toml):
// per-project HS256 tokens from AUTH_SECRETS and from KV, public streams, reader keys,
// and the rule that a cached answer never reaches a request that failed auth.
import { rmSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { signToken as sign } from "./helpers"
import { freshState, kvPut, startWorker, type LocalWorker } from "./worker"

const CONFIG = "tests/auth/wrangler.toml"
const SECRETS: Record<string, string> = { _default: "default-secret", acme: "acme-new", kvproj: "kv-secret" }
const ORIGIN = "https://app.example"


const now = () => Math.floor(Date.now() / 1000)

/** A bearer header for `project` with `scope`, signed with `secret` (the project's by default). */
function bearer(project: string, scope: "read" | "write", extra: Record<string, unknown> = {}, secret = SECRETS[project]) {
  return { Authorization: `Bearer ${sign(secret, { sub: project, scope, exp: now() + 600, ...extra })}` }
}

const W = bearer("_default", "write")
const R = bearer("_default", "read")
let worker: LocalWorker
let state: string
let n = 0
const unique = (label: string) => `auth-${label}-${Date.now()}-${++n}`
const at = (path: string) => `${worker.url}${path}`

async function expectJsonError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get("content-type")).toBe("application/json")
  expect(res.headers.get("cache-control")).toBe("no-store")
  expect(res.headers.get("x-content-type-options")).toBe("nosniff")
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code)
}

/** Two reads' worth of data: the first read (MAX_CHUNK_BYTES = 1024) stops mid-stream. */
const BODY = "0123456789abcdef".repeat(128)

/** Creates a protected text stream holding `body` and returns its reader key. */
async function createProtected(path: string, body = BODY): Promise<string> {
  const res = await fetch(at(path), { method: "PUT", headers: { ...W, "Content-Type": "text/plain" }, body })
  expect(res.status).toBe(201)
  const key = res.headers.get("stream-reader-key")
  expect(key).toMatch(/^rk_[0-9a-f]{32}$/)
  return key!
}

beforeAll(async () => {
  state = freshState()
  kvPut(state, CONFIG, "AUTH_KV", "kvproj", JSON.stringify({ signingSecret: SECRETS.kvproj }))
  worker = await startWorker(state, {}, CONFIG)
}, 120_000)

afterAll(async () => {
  await worker?.stop()
  rmSync(state, { recursive: true, force: true })
})

describe("tokens", () => {
  test("writes need a write token; errors are JSON with CORS, security headers and no-store", async () => {
    const path = `/v1/stream/${unique("w")}`
    const none = await fetch(at(path), { method: "PUT", headers: { Origin: ORIGIN } })
    await expectJsonError(none, 401, "AUTH_REQUIRED")
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/)
    expect(none.headers.get("access-control-allow-origin")).toBe(ORIGIN)
    await expectJsonError(await fetch(at(path), { method: "PUT", headers: R }), 403, "INSUFFICIENT_SCOPE")
    await expectJsonError(await fetch(at(path), { method: "PUT", headers: { Authorization: "Basic eDp5" } }), 401, "INVALID_AUTHORIZATION")
    // Nothing was created by the refused requests.
    await expectJsonError(await fetch(at(`${path}?offset=-1`), { headers: R }), 404, "STREAM_NOT_FOUND")
    await createProtected(path)
    const append = await fetch(at(path), { method: "POST", headers: { ...W, "Content-Type": "text/plain" }, body: "!" })
    expect(append.status).toBe(204)
    await expectJsonError(await fetch(at(path), { method: "DELETE", headers: R }), 403, "INSUFFICIENT_SCOPE")
    await expectJsonError(await fetch(at(path), { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" }), 401, "AUTH_REQUIRED")
  })

  test("bad, expired, foreign and restricted tokens are refused", async () => {
    const path = `/v1/stream/${unique("r")}`
    await createProtected(path)
    const read = (headers: Record<string, string>) => fetch(at(`${path}?offset=-1`), { headers })
    expect((await read(R)).status).toBe(200)
    expect((await read(W)).status).toBe(200)
    await expectJsonError(await read(bearer("_default", "read", { exp: now() - 3600 })), 401, "TOKEN_EXPIRED")
    await expectJsonError(await read(bearer("_default", "read", {}, "guessed-secret")), 401, "INVALID_TOKEN")
    await expectJsonError(await read({ Authorization: "Bearer not.a.jwt" }), 401, "INVALID_TOKEN")
    // Another project's token does not verify with this project's secrets; a token
    // signed with them for another project is refused as such.
    await expectJsonError(await read(bearer("acme", "read")), 401, "INVALID_TOKEN")
    await expectJsonError(await read(bearer("acme", "read", {}, SECRETS._default)), 403, "WRONG_PROJECT")
    await expectJsonError(await read(bearer("_default", "read", { stream_id: "other" })), 403, "STREAM_NOT_ALLOWED")
    const id = path.slice("/v1/stream/".length)
    expect((await read(bearer("_default", "read", { stream_id: id }))).status).toBe(200)
  })

  test("projects: path form, secrets from AUTH_SECRETS (old ones too) and from KV, unknown projects", async () => {
    const acme = `/v1/acme/stream/${unique("p")}`
    const create = await fetch(at(acme), { method: "PUT", headers: { ...bearer("acme", "write"), "Content-Type": "text/plain" }, body: "acme" })
    expect(create.status).toBe(201)
    expect(create.headers.get("location")).toBe(at(acme))
    // A secret being rotated out still verifies.
    expect((await fetch(at(`${acme}?offset=-1`), { headers: bearer("acme", "read", {}, "acme-old") })).status).toBe(200)
    // The default project's token does not open another project's stream.
    await expectJsonError(await fetch(at(`${acme}?offset=-1`), { headers: R }), 401, "INVALID_TOKEN")
    await expectJsonError(await fetch(at(`${acme}?offset=-1`), { headers: bearer("_default", "read", {}, "acme-new") }), 403, "WRONG_PROJECT")
    const kv = `/v1/kvproj/stream/${unique("kv")}`
    expect((await fetch(at(kv), { method: "PUT", headers: { ...bearer("kvproj", "write"), "Content-Type": "text/plain" }, body: "kv" })).status).toBe(201)
    expect(await (await fetch(at(`${kv}?offset=-1`), { headers: bearer("kvproj", "read") })).text()).toBe("kv")
    const unknown = `/v1/nobody/stream/${unique("u")}`
    await expectJsonError(await fetch(at(`${unknown}?offset=-1`)), 401, "UNKNOWN_PROJECT")
    await expectJsonError(await fetch(at(unknown), { method: "PUT", headers: bearer("nobody", "write", {}, "x") }), 401, "UNKNOWN_PROJECT")
  })

  test("forks stay within a project and within a token's stream restriction", async () => {
    const src = unique("src")
    await createProtected(`/v1/stream/${src}`)
    const fork = (path: string, headers: Record<string, string>, from = `/v1/stream/${src}`) =>
      fetch(at(path), { method: "PUT", headers: { ...headers, "Stream-Forked-From": from } })
    const target = unique("fork")
    await expectJsonError(await fork(`/v1/stream/${target}`, bearer("_default", "write", { stream_id: target })), 403, "STREAM_NOT_ALLOWED")
    await expectJsonError(await fork(`/v1/acme/stream/${target}`, bearer("acme", "write")), 403, "FORK_ACROSS_PROJECTS")
    expect((await fork(`/v1/stream/${target}`, W)).status).toBe(201)
  })

  test("each project has its own registry, readable with a token only", async () => {
    const id = unique("reg")
    const path = `/v1/acme/stream/${id}`
    await fetch(at(path), { method: "PUT", headers: { ...bearer("acme", "write"), "Content-Type": "text/plain" } })
    await expectJsonError(await fetch(at("/v1/acme/stream/__registry__?offset=-1")), 401, "AUTH_REQUIRED")
    let keys: string[] = []
    for (let i = 0; i < 50 && !keys.includes(id); i++) {
      await new Promise((r) => setTimeout(r, 100))
      keys = []
      let offset = "-1"
      for (;;) {
        const res = await fetch(at(`/v1/acme/stream/__registry__?offset=${offset}`), { headers: bearer("acme", "read") })
        expect(res.status).toBe(200)
        keys.push(...((await res.json()) as { key: string }[]).map((e) => e.key))
        offset = res.headers.get("stream-next-offset")!
        if (res.headers.get("stream-up-to-date") === "true") break
      }
    }
    expect(keys).toContain(id)
    const mine = await fetch(at("/v1/stream/__registry__?offset=-1"), { headers: R })
    const defaultKeys = mine.status === 200 ? ((await mine.json()) as { key: string }[]).map((e) => e.key) : []
    expect(defaultKeys).not.toContain(id)
  })
})

describe("cache safety", () => {
  test("a cached answer of a protected stream never reaches a request that failed auth", async () => {
    const path = `/v1/stream/${unique("c")}`
    const key = await createProtected(path)
    const chunk = at(`${path}?offset=-1&rk=${key}`)
    const first = await fetch(chunk, { headers: R })
    expect([first.status, first.headers.get("x-cache")]).toEqual([200, "MISS"])
    expect(first.headers.get("cache-control")).toMatch(/public, max-age=/)
    const body = await first.text()
    const second = await fetch(chunk, { headers: R })
    expect([second.headers.get("x-cache"), await second.text()]).toEqual(["HIT", body])
    // The same URL with bad credentials, or for the wrong project: refused before the
    // cache is looked at.
    const refused = [bearer("_default", "read", {}, "guessed-secret"), bearer("acme", "read", {}, SECRETS._default)]
    for (const headers of refused) {
      const res = await fetch(chunk, { headers })
      expect([401, 403]).toContain(res.status)
      expect(await res.text()).not.toContain(body)
      expect(res.headers.get("x-cache")).toBeNull()
    }
    // Without credentials: looked up among anonymous answers only, where this stream's
    // never are, and refused by the stream's object.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(chunk)
      expect(res.status).toBe(401)
      expect(await res.text()).not.toContain(body)
    }
    // Long-poll and SSE are refused the same way.
    expect((await fetch(at(`${path}?offset=-1&live=long-poll&rk=${key}`))).status).toBe(401)
    expect((await fetch(at(`${path}?offset=-1&live=sse`))).status).toBe(401)
  })

  test("reads without the right reader key are not stored; rotation retires the old key", async () => {
    const path = `/v1/stream/${unique("rk")}`
    const key = await createProtected(path)
    const head = await fetch(at(path), { method: "HEAD", headers: R })
    expect(head.headers.get("stream-reader-key")).toBe(key)
    const xcache = async (query: string) => {
      const res = await fetch(at(`${path}?offset=-1${query}`), { headers: R })
      expect(res.status).toBe(200)
      return [res.headers.get("x-cache"), res.headers.get("cache-control")]
    }
    for (const query of ["", "&rk=rk_00000000000000000000000000000000"]) {
      expect(await xcache(query)).toEqual(["MISS", "private, no-store"])
      expect(await xcache(query)).toEqual(["MISS", "private, no-store"])
    }
    const rotated = await fetch(at(path), { method: "POST", headers: { ...W, "Stream-Reader-Key": "rotate" } })
    expect(rotated.status).toBe(204)
    const fresh = rotated.headers.get("stream-reader-key")!
    expect(fresh).toMatch(/^rk_[0-9a-f]{32}$/)
    expect(fresh).not.toBe(key)
    // Answers for the old key are no longer stored; the new key's are.
    expect(await xcache(`&rk=${key}`)).toEqual(["MISS", "private, no-store"])
    expect(await xcache(`&rk=${key}`)).toEqual(["MISS", "private, no-store"])
    expect((await xcache(`&rk=${fresh}`))[0]).toBe("MISS")
    expect((await xcache(`&rk=${fresh}`))[0]).toBe("HIT")
    // A rotation request with a body is refused and appends nothing.
    const bad = await fetch(at(path), { method: "POST", headers: { ...W, "Stream-Reader-Key": "rotate", "Content-Type": "text/plain" }, body: "x" })
    await expectJsonError(bad, 400, "INVALID_READER_KEY_REQUEST")
    const all = await fetch(at(path), { method: "HEAD", headers: R })
    expect(all.headers.get("stream-next-offset")).toBe(head.headers.get("stream-next-offset"))
  })

  test("public streams are readable anonymously, cached apart, and still need tokens to write", async () => {
    const path = `/v1/stream/${unique("pub")}`
    const res = await fetch(at(`${path}?public=true`), { method: "PUT", headers: { ...W, "Content-Type": "text/plain" }, body: BODY })
    expect([res.status, res.headers.get("stream-reader-key")]).toEqual([201, null])
    const anon = async () => {
      const r = await fetch(at(`${path}?offset=-1`))
      expect(r.status).toBe(200)
      expect(await r.text()).toBe(BODY.slice(0, 1024))
      return r.headers.get("x-cache")
    }
    expect(await anon()).toBe("MISS")
    expect(await anon()).toBe("HIT")
    expect((await fetch(at(`${path}?offset=-1`), { headers: R })).headers.get("x-cache")).toBe("MISS")
    await expectJsonError(await fetch(at(path), { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" }), 401, "AUTH_REQUIRED")
    // A protected stream and a missing one look the same to anonymous readers.
    const hidden = `/v1/stream/${unique("hidden")}`
    await createProtected(hidden)
    await expectJsonError(await fetch(at(`${hidden}?offset=-1`)), 401, "AUTH_REQUIRED")
    await expectJsonError(await fetch(at(`/v1/stream/${unique("missing")}?offset=-1`)), 401, "AUTH_REQUIRED")
  })

  test("a client cannot claim an authorization the edge did not grant", async () => {
    const path = `/v1/stream/${unique("spoof")}`
    await createProtected(path)
    const res = await fetch(at(`${path}?offset=-1`), { headers: { "X-Stream-Access": "token" } })
    await expectJsonError(res, 401, "AUTH_REQUIRED")
  })
})

describe("CORS origins", () => {
  test("only configured origins are allowed to read responses", async () => {
    const allowed = await fetch(at("/health"), { headers: { Origin: "https://admin.example" } })
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://admin.example")
    expect(allowed.headers.get("vary")).toContain("Origin")
    const other = await fetch(at("/health"), { headers: { Origin: "https://evil.example" } })
    expect(other.headers.get("access-control-allow-origin")).toBeNull()
    const preflight = await fetch(at("/v1/stream/x"), { method: "OPTIONS", headers: { Origin: ORIGIN, "Access-Control-Request-Method": "PUT" } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get("access-control-allow-headers")).toContain("Authorization")
  })
})

describe("subscription APIs", () => {
  test("need the project's write token, except the public keys and the wake-token routes", async () => {
    const sub = at(`/v1/stream/__ds/subscriptions/${unique("sub")}`)
    const config = JSON.stringify({ type: "pull-wake", pattern: "jobs/*", wake_stream: "wake" })
    const putSub = (headers: Record<string, string>) =>
      fetch(sub, { method: "PUT", headers: { "Content-Type": "application/json", ...headers }, body: config })
    await expectJsonError(await putSub({}), 401, "AUTH_REQUIRED")
    await expectJsonError(await putSub(R), 403, "INSUFFICIENT_SCOPE")
    // Signed for another project: it does not verify with this one's secret.
    await expectJsonError(await putSub(bearer("acme", "write")), 401, "INVALID_TOKEN")
    await expectJsonError(await putSub(bearer("_default", "write", { stream_id: "jobs/a" })), 403, "STREAM_NOT_ALLOWED")
    // Nothing was created by the refused requests.
    await expectJsonError(await fetch(sub, { headers: W }), 404, "SUBSCRIPTION_NOT_FOUND")
    expect((await putSub(W)).status).toBe(201)
    // Reading one names the project's streams and their cursors: a read token is not enough.
    await expectJsonError(await fetch(sub), 401, "AUTH_REQUIRED")
    await expectJsonError(await fetch(sub, { headers: R }), 403, "INSUFFICIENT_SCOPE")
    expect((await fetch(sub, { headers: W })).status).toBe(200)
    const claim = (headers: Record<string, string>) =>
      fetch(`${sub}/claim`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: '{"worker":"w"}' })
    await expectJsonError(await claim({}), 401, "AUTH_REQUIRED")
    await expectJsonError(await claim(W), 409, "NO_PENDING_WORK")
    // Acks carry a wake's token, not the project's: a project token is no wake token.
    const ack = await fetch(`${sub}/ack`, { method: "POST", headers: { "Content-Type": "application/json", ...W }, body: "{}" })
    await expectJsonError(ack, 401, "INVALID_TOKEN")
    const jwks = await fetch(at("/v1/stream/__ds/jwks.json"))
    expect(jwks.status).toBe(200)
    expect(jwks.headers.get("content-type")).toBe("application/jwk-set+json")
    await expectJsonError(await fetch(sub, { method: "DELETE", headers: R }), 403, "INSUFFICIENT_SCOPE")
    expect((await fetch(sub, { method: "DELETE", headers: W })).status).toBe(204)
  })
})
