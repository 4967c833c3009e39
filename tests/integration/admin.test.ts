// The admin worker against a real local core: its Access gate (tokens signed here with
// a key this test serves as the team's JWKS), its JSON API, and its pages in a real
// browser (Debian's Chromium, driven by playwright-core). Screenshots of each page go
// to target/admin-screenshots/.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto"
import { mkdirSync, mkdtempSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type Browser, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, test } from "vitest"
import { freshState, startWorker, type LocalWorker } from "./worker"

const AUD = "test-admin-application"
const SCREENSHOTS = "target/admin-screenshots"
const teamKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 })

let core: LocalWorker
let open: LocalWorker
let gated: LocalWorker
let closed: LocalWorker
let subscriptions: LocalWorker
let team: string
let jwks: Server
let browser: Browser

const b64 = (text: string) => Buffer.from(text).toString("base64url")
const now = () => Math.floor(Date.now() / 1000)

/** An Access application token, as Access would sign it for this test's team. */
function token(overrides: Record<string, unknown> = {}, key: KeyObject = teamKey.privateKey): string {
  const claims = {
    iss: team, aud: [AUD], exp: now() + 600, iat: now(), nbf: now() - 5,
    sub: "0f6c7f1e-3c1a-4bd7-9a52-4d5d7a1f0b11", email: "ops@example.com", type: "app", ...overrides,
  }
  const signed = `${b64(JSON.stringify({ alg: "RS256", kid: "team-1", typ: "JWT" }))}.${b64(JSON.stringify(claims))}`
  return `${signed}.${sign("sha256", Buffer.from(signed), key).toString("base64url")}`
}

function serveJwks(): Promise<string> {
  const jwk = { ...teamKey.publicKey.export({ format: "jwk" }), kid: "team-1", alg: "RS256", use: "sig" }
  jwks = createServer((req, res) => {
    if (req.url !== "/cdn-cgi/access/certs") {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys: [jwk] }))
  })
  return new Promise((resolve) => jwks.listen(0, "127.0.0.1", () => {
    const address = jwks.address()
    resolve(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`)
  }))
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  team = await serveJwks()
  const shared = { WRANGLER_REGISTRY_PATH: mkdtempSync(join(tmpdir(), "wrangler-registry-")) }
  core = await startWorker(freshState(), {}, "tests/admin/core.toml", shared)
  const config = "tests/admin/admin.toml"
  ;[open, gated, closed, subscriptions] = await Promise.all([
    // Live-log responses end every 1.5 s, so the browser reconnects during the tests.
    startWorker(freshState(), { ADMIN_AUTH: "dev-open", LIVE_SESSION_MS: "1500" }, config, shared),
    startWorker(freshState(), { ACCESS_TEAM_DOMAIN: team, ACCESS_AUD: `another-app,${AUD}` }, config, shared),
    startWorker(freshState(), {}, config, shared),
    // The subscription worker on this core, counting its metric events for the overview.
    startWorker(freshState(), { METRICS_COUNTERS: "1" }, "tests/subscription/subscription-open.toml", shared),
  ])
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  })
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await Promise.all([open?.stop(), gated?.stop(), closed?.stop(), subscriptions?.stop()])
  await core?.stop()
  jwks?.close()
})

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } }
  return { status: res.status, ...body.error }
}

const asOperator = (t: string) => ({ "Cf-Access-Jwt-Assertion": t })

describe("the Access gate", () => {
  test("a valid token of the application is admitted, to the API and to the pages", async () => {
    const me = await fetch(`${gated.url}/admin/api/whoami`, { headers: asOperator(token()) })
    expect(me.status).toBe(200)
    expect(me.headers.get("cache-control")).toBe("no-store")
    expect(await me.json()).toEqual({ mode: "access", operator: "ops@example.com" })
    const page = await fetch(`${gated.url}/`, { headers: asOperator(token()) })
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")
    expect(await page.text()).toContain("Durable Streams admin")
  })

  test("a missing, expired, wrong-audience, wrong-issuer or wrongly signed token is refused", async () => {
    for (const path of ["/", "/app.js", "/admin/api/whoami"]) {
      const missing = await errorOf(await fetch(`${gated.url}${path}`))
      expect([missing.status, missing.code], path).toEqual([401, "ACCESS_REQUIRED"])
    }
    const refused: Array<[string, string, string]> = [
      ["expired", token({ exp: now() - 3600, nbf: now() - 7200, iat: now() - 7200 }), "expired"],
      ["wrong audience", token({ aud: ["someone-elses-app"] }), "another Access application"],
      ["wrong issuer", token({ iss: "https://evil.cloudflareaccess.com" }), "another team"],
      ["wrong signature", token({}, otherKey.privateKey), "signature"],
      ["not a JWT", "garbage", "well-formed"],
    ]
    for (const [what, t, says] of refused) {
      for (const path of ["/", "/admin/api/whoami"]) {
        const e = await errorOf(await fetch(`${gated.url}${path}`, { headers: asOperator(t) }))
        expect([e.status, e.code], `${what} on ${path}`).toEqual([403, "ACCESS_DENIED"])
        expect(e.message, what).toContain(says)
      }
    }
  })

  test("without Access settings the gate is closed, even to a valid token", async () => {
    for (const headers of [{}, asOperator(token())]) {
      const e = await errorOf(await fetch(`${closed.url}/`, { headers }))
      expect([e.status, e.code]).toEqual([503, "ADMIN_GATE_UNCONFIGURED"])
      expect(e.message).toContain("ACCESS_TEAM_DOMAIN")
    }
    expect((await fetch(`${closed.url}/health`)).status).toBe(200)
  })

  test("in the browser, the pages never load without a token, and load with one", async () => {
    const anonymous = await browser.newPage()
    const refused = await anonymous.goto(gated.url)
    expect(refused?.status()).toBe(401)
    expect(await anonymous.locator("#view").count()).toBe(0)
    await anonymous.close()
    const context = await browser.newContext({ extraHTTPHeaders: asOperator(token()) })
    const page = await context.newPage()
    expect((await page.goto(gated.url))?.status()).toBe(200)
    await page.getByText("ops@example.com").waitFor()
    expect(await page.locator("#banner").isHidden()).toBe(true)
    await page.screenshot({ path: `${SCREENSHOTS}/access-home.png`, fullPage: true })
    await context.close()
  })
})

/** A stream in core with `n` messages, some from an idempotent producer; its last offset. */
async function streamWith(id: string, n: number): Promise<string> {
  const url = `${core.url}/v1/stream/${encodeURIComponent(id)}`
  const created = await fetch(url, { method: "PUT", headers: { "Content-Type": "application/json", "Stream-TTL": "3600" } })
  expect(created.status).toBe(201)
  let offset = ""
  // The last two messages (or the only one) come from the producer, from its seq 0.
  const first = Math.max(0, n - 2)
  for (let i = 0; i < n; i++) {
    const producer = i >= first ? { "Producer-Id": "console-writer", "Producer-Epoch": "2", "Producer-Seq": `${i - first}` } : {}
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...producer },
      body: JSON.stringify({ n: i }),
    })
    expect(res.status, await res.clone().text()).toBeLessThan(300)
    offset = res.headers.get("stream-next-offset") ?? ""
  }
  return offset
}

interface Inspect {
  contentType: string
  tailOffset: string
  closed: boolean
  expiry: { ttlSeconds: number | null; expiresAt: number | null }
  hot: { messages: number; bytes: number }
  segments: Array<{ startOffset: string; endOffset: string }>
  producers: Array<{ id: string; epoch: number; lastSeq: number }>
  readers: { longPoll: number; sse: number }
}

async function openConsole(page: Page, id: string): Promise<void> {
  await page.goto(`${open.url}/#/streams/_default/${encodeURIComponent(id)}`)
  await page.getByText("Tail Offset").waitFor()
}

describe("the stream console", () => {
  test("shows what the stream's object holds: meta, segments, producers", async () => {
    const id = `admin-console/${Date.now()}`
    const tail = await streamWith(id, 7)
    // The object cuts segments after the appends that fill them; give it a moment.
    let s: Inspect | undefined
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${open.url}/admin/api/streams/_default/${encodeURIComponent(id)}`)
      expect(res.status).toBe(200)
      s = (await res.json()) as Inspect
      if (s.segments.length > 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(s?.contentType).toBe("application/json")
    expect(s?.tailOffset).toBe(tail)
    expect(s?.closed).toBe(false)
    expect(s?.expiry.ttlSeconds).toBe(3600)
    expect(s?.segments.length).toBeGreaterThan(0)
    expect(s?.producers).toEqual([expect.objectContaining({ id: "console-writer", epoch: 2, lastSeq: 1 })])

    const page = await browser.newPage()
    await openConsole(page, id)
    const text = (await page.locator("#view").textContent()) ?? ""
    for (const shown of ["application/json", tail, "console-writer", "3600 s", s!.segments[0].startOffset]) {
      expect(text, shown).toContain(shown)
    }
    expect(await page.locator("#banner").textContent()).toContain("dev-open")
    await page.screenshot({ path: `${SCREENSHOTS}/stream-console.png`, fullPage: true })
    await page.close()
  })

  test("opening a stream from the home page goes to its console", async () => {
    const id = `admin-open-${Date.now()}`
    await streamWith(id, 1)
    const page = await browser.newPage()
    await page.goto(open.url)
    await page.getByPlaceholder("Enter stream ID...").fill(id)
    await page.getByRole("button", { name: "Open stream" }).click()
    await page.getByText("Tail Offset").waitFor()
    expect(page.url()).toContain(`#/streams/_default/${id}`)
    await page.screenshot({ path: `${SCREENSHOTS}/home.png`, fullPage: true })
    await page.close()
  })

  test("a missing stream says so, in the API and on the page", async () => {
    const id = `admin-missing-${Date.now()}`
    const e = await errorOf(await fetch(`${open.url}/admin/api/streams/_default/${id}`))
    expect([e.status, e.code]).toEqual([404, "STREAM_NOT_FOUND"])
    const page = await browser.newPage()
    await page.goto(`${open.url}/#/streams/_default/${id}`)
    await page.locator(".error").waitFor()
    await page.close()
    // Looking did not create it.
    expect((await fetch(`${core.url}/v1/stream/${id}`, { method: "HEAD" })).status).toBe(404)
  })
})

describe("changing a stream from its console", () => {
  test("a missing stream is created from its console, and a message sent from there", async () => {
    const id = `admin-create-${Date.now()}`
    const page = await browser.newPage()
    await page.goto(`${open.url}/#/streams/_default/${id}`)
    await page.getByRole("button", { name: "Create stream" }).waitFor()
    await page.locator("select[name=contentType]").selectOption("text/plain")
    await page.locator("textarea[name=first]").fill("hello ")
    await page.getByRole("button", { name: "Create stream" }).click()
    await page.getByRole("button", { name: "Send" }).waitFor()
    expect(await page.locator("#view").textContent()).toContain("text/plain")
    await page.locator("textarea[name=message]").fill("world")
    await page.getByRole("button", { name: "Send" }).click()
    await page.getByText("APPEND => 204 OK").waitFor()
    const read = await fetch(`${core.url}/v1/stream/${id}?offset=-1`)
    expect(await read.text()).toBe("hello world")
    const tail = read.headers.get("stream-next-offset")!
    await page.locator("#figures").getByText(tail).waitFor()
    await page.screenshot({ path: `${SCREENSHOTS}/stream-console-send.png`, fullPage: true })
    await page.close()
  })
})

describe("the live log", () => {
  test("shows a message another client appends within 2 s, and resumes after each drop with no gap or duplicate", async () => {
    const id = `admin-live-${Date.now()}`
    await streamWith(id, 1)
    const page = await browser.newPage()
    const lives: Array<Promise<string | undefined>> = []
    page.on("request", (r) => {
      if (r.url().includes("/admin/api/live/")) lives.push(r.allHeaders().then((h) => h["last-event-id"]))
    })
    await openConsole(page, id)
    await page.locator("#live-status", { hasText: /^connected$/ }).waitFor()
    const post = (body: unknown) =>
      fetch(`${core.url}/v1/stream/${id}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
    const first = Date.now()
    expect((await post({ live: 0 })).status).toBe(204)
    await page.locator("#live-log li").getByText('{"live":0}').waitFor({ timeout: 2_000 })
    expect(Date.now() - first).toBeLessThan(2_000)
    // Messages over several of the server's 1.5 s sessions: some land while the browser
    // is reconnecting.
    for (let i = 1; i <= 15; i++) {
      expect((await post({ live: i })).status).toBe(204)
      await new Promise((r) => setTimeout(r, 300))
    }
    await page.locator("#live-log li").getByText('{"live":15}').waitFor({ timeout: 5_000 })
    const shown = await page.locator("#live-log li").allTextContents()
    expect(shown).toEqual(Array.from({ length: 16 }, (_, i) => JSON.stringify({ live: i })))
    // It did reconnect, each time from the offset it had got to.
    const ids = await Promise.all(lives)
    expect(ids.length).toBeGreaterThan(2)
    expect(ids[0]).toBeUndefined()
    expect(ids.slice(1).every((id) => typeof id === "string" && /^[0-9]+_[0-9]+$/.test(id)), JSON.stringify(ids)).toBe(true)
    await page.screenshot({ path: `${SCREENSHOTS}/stream-console-live.png`, fullPage: true })
    await page.close()
  }, 30_000)

  test("fetching earlier messages shows the whole stream once, in order, and goes on live", async () => {
    const id = `admin-earlier-${Date.now()}`
    await streamWith(id, 3)
    const page = await browser.newPage()
    await openConsole(page, id)
    await page.locator("#live-status", { hasText: /^connected$/ }).waitFor()
    const post = (body: unknown) =>
      fetch(`${core.url}/v1/stream/${id}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
    expect((await post({ n: 3 })).status).toBe(204)
    await page.locator("#live-log li").getByText('{"n":3}').waitFor()
    await page.getByRole("button", { name: "Fetch earlier messages" }).click()
    await page.locator("#live-log li").nth(3).waitFor()
    expect((await post({ n: 4 })).status).toBe(204)
    await page.locator("#live-log li").getByText('{"n":4}').waitFor()
    expect(await page.locator("#live-log li").allTextContents()).toEqual([0, 1, 2, 3, 4].map((n) => JSON.stringify({ n })))
    await page.close()
  })

  test("a bad start is a 400, and a missing stream a 404", async () => {
    const id = `admin-live-missing-${Date.now()}`
    const missing = await errorOf(await fetch(`${open.url}/admin/api/live/_default/${id}`))
    expect([missing.status, missing.code]).toEqual([404, "STREAM_NOT_FOUND"])
    await streamWith(id, 1)
    const badOffset = await errorOf(await fetch(`${open.url}/admin/api/live/_default/${id}?offset=nope`))
    expect(badOffset.status).toBe(400)
    const badId = await errorOf(await fetch(`${open.url}/admin/api/live/_default/${id}`, { headers: { "Last-Event-ID": "now" } }))
    expect(badId.status).toBe(400)
  })
})

describe("the subscription pages", () => {
  test("show a project's sessions, the streams they follow, and its counters", async () => {
    const source = `admin-source-${Date.now()}`
    await streamWith(source, 0)
    const sessions = [`admin-a-${Date.now()}`, `admin-b-${Date.now()}`]
    for (const sessionId of sessions) {
      const res = await fetch(`${subscriptions.url}/v1/subscribe`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ streamId: source, sessionId }),
      })
      expect(res.status, await res.clone().text()).toBe(200)
    }
    for (const n of [1, 2]) {
      const res = await fetch(`${subscriptions.url}/v1/publish/${source}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ n }),
      })
      expect(res.status).toBeLessThan(300)
    }
    const api = `${open.url}/admin/api/subscriptions/_default`
    const overview = (await (await fetch(api)).json()) as { sessions: number; subscriptions: number; sources: number; series: Array<{ publishes: number }> }
    expect([overview.sessions, overview.subscriptions, overview.sources]).toEqual([2, 2, 1])
    expect(overview.series.reduce((n, m) => n + m.publishes, 0)).toBe(2)
    const listed = (await (await fetch(`${api}/sessions`)).json()) as { items: Array<{ sessionId: string }> }
    expect(listed.items.map((s) => s.sessionId).sort()).toEqual([...sessions].sort())
    const one = (await (await fetch(`${api}/sessions/${sessions[0]}`)).json()) as { subscriptions: Array<{ streamId: string }> }
    expect(one.subscriptions.map((s) => s.streamId)).toEqual([source])

    const page = await browser.newPage()
    await page.goto(`${open.url}/#/subscriptions/_default`)
    await page.getByText("Streams with subscribers").first().waitFor()
    const text = (await page.locator("#view").textContent()) ?? ""
    for (const shown of [...sessions, source, "Publishes (last hour)"]) expect(text, shown).toContain(shown)
    await page.screenshot({ path: `${SCREENSHOTS}/subscriptions.png`, fullPage: true })
    // A stream's subscribers: the view from the stream's side.
    const subscribers = (await (await fetch(`${api}/sources/${source}`)).json()) as { items: Array<{ sessionId: string }> }
    expect(subscribers.items.map((s) => s.sessionId).sort()).toEqual([...sessions].sort())
    await page.getByRole("link", { name: source }).click()
    await page.getByText(`Subscribers of ${source}`).waitFor()
    for (const sessionId of sessions) await page.getByRole("link", { name: sessionId }).waitFor()
    await page.screenshot({ path: `${SCREENSHOTS}/subscribers.png`, fullPage: true })
    await page.getByRole("link", { name: sessions[0] }).click()
    await page.getByText(`session:${sessions[0]}`).waitFor()
    expect(await page.locator("#view").textContent()).toContain(source)
    await page.screenshot({ path: `${SCREENSHOTS}/session.png`, fullPage: true })
    await page.close()
  })

  test("change sessions through the subscription worker: subscribe, publish, touch, unsubscribe, delete", async () => {
    const source = `admin-pub-${Date.now()}`
    await streamWith(source, 0)
    const sessionId = `admin-c-${Date.now()}`
    const page = await browser.newPage()
    await page.goto(`${open.url}/#/subscriptions/_default`)
    const subscribe = page.locator("form", { hasText: "Subscribe a Session" })
    await subscribe.locator("input[name=sessionId]").fill(sessionId)
    await subscribe.locator("input[name=streamId]").fill(source)
    await subscribe.getByRole("button", { name: "Subscribe" }).click()
    await page.locator("#actions-log li", { hasText: "POST => 200 OK" }).waitFor()
    const publish = page.locator("form", { hasText: "Publish" })
    await publish.locator("input[name=streamId]").fill(source)
    await publish.locator("textarea[name=body]").fill('{"m":1}')
    await publish.getByRole("button", { name: "Publish" }).click()
    const published = page.locator("#actions-log li", { hasText: "Stream-Fanout-Count: 1" })
    await published.waitFor()
    expect(await published.textContent()).toContain("Stream-Fanout-Mode: inline")
    const copy = await fetch(`${core.url}/v1/stream/session:${sessionId}?offset=-1`)
    expect(await copy.json()).toEqual([{ m: 1 }])
    await page.screenshot({ path: `${SCREENSHOTS}/subscriptions-actions.png`, fullPage: true })

    await page.goto(`${open.url}/#/subscriptions/_default/sessions/${sessionId}`)
    await page.getByRole("button", { name: "Touch" }).click()
    await page.locator("#actions-log li", { hasText: "POST => 200 OK" }).waitFor()
    // A source that does not exist is refused, and not created.
    const missing = `admin-nothing-${Date.now()}`
    const add = page.locator("form", { hasText: "Add Subscription" })
    await add.locator("input[name=streamId]").fill(missing)
    await add.getByRole("button", { name: "Subscribe" }).click()
    await page.locator("#actions-log li.error", { hasText: "404 STREAM_NOT_FOUND" }).waitFor()
    expect((await fetch(`${core.url}/v1/stream/${missing}`, { method: "HEAD" })).status).toBe(404)
    await page.getByRole("button", { name: "Unsubscribe" }).click()
    await page.getByText("No active subscriptions.").waitFor()
    await page.screenshot({ path: `${SCREENSHOTS}/session.png`, fullPage: true })
    await page.getByRole("button", { name: "Delete session" }).click()
    await page.locator("#view .error").waitFor()
    expect((await fetch(`${core.url}/v1/stream/session:${sessionId}`, { method: "HEAD" })).status).toBe(404)
    await page.close()
  })

  test("a change from another site, or a bad body, is refused and changes nothing", async () => {
    const api = `${open.url}/admin/api/subscriptions/_default`
    const sessionId = `admin-d-${Date.now()}`
    const evil = await errorOf(await fetch(`${api}/sessions/${sessionId}/subscribe`, {
      method: "POST", headers: { Origin: "https://evil.example", "Content-Type": "application/json" }, body: JSON.stringify({ streamId: "x" }),
    }))
    expect([evil.status, evil.code]).toEqual([403, "ACCESS_DENIED"])
    const bad = await errorOf(await fetch(`${api}/sessions/${sessionId}/subscribe`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }))
    expect([bad.status, bad.code]).toEqual([400, "INVALID_BODY"])
    expect((await fetch(`${api}/sessions/${sessionId}`)).status).toBe(404)
  })

  test("bad ids are a 400 and a missing session a 404", async () => {
    const api = `${open.url}/admin/api/subscriptions`
    expect((await errorOf(await fetch(`${api}/bad%20project`))).status).toBe(400)
    expect((await errorOf(await fetch(`${api}/_default/sessions/bad%20id`))).status).toBe(400)
    const missing = await errorOf(await fetch(`${api}/_default/sessions/nobody-${Date.now()}`))
    expect([missing.status, missing.code]).toEqual([404, "SESSION_NOT_FOUND"])
  })
})

describe("bad input to the admin API", () => {
  test("a write the stream refuses is its 4xx, and changes nothing", async () => {
    const id = `admin-refused-${Date.now()}`
    const api = `${open.url}/admin/api/streams/_default/${id}`
    const missing = await errorOf(await fetch(api, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" }))
    expect([missing.status, missing.code]).toEqual([404, "STREAM_NOT_FOUND"])
    expect((await fetch(`${core.url}/v1/stream/${id}`, { method: "HEAD" })).status).toBe(404)
    expect((await fetch(api, { method: "PUT", headers: { "Content-Type": "application/json" } })).status).toBe(201)
    const tail = async () => (await fetch(`${core.url}/v1/stream/${id}`, { method: "HEAD" })).headers.get("stream-next-offset")
    const before = await tail()
    const other = await errorOf(await fetch(api, { method: "PUT", headers: { "Content-Type": "text/plain" } }))
    expect(other.status).toBe(409)
    const wrongType = await errorOf(await fetch(api, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" }))
    expect([wrongType.status, wrongType.code]).toEqual([409, "CONTENT_TYPE_MISMATCH"])
    const notJson = await errorOf(await fetch(api, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }))
    expect(notJson.status).toBe(400)
    expect(await tail()).toBe(before)
  })

  test("a change sent from another site's page is refused, and changes nothing", async () => {
    const id = `admin-csrf-${Date.now()}`
    const api = `${open.url}/admin/api/streams/_default/${id}`
    const evil = { Origin: "https://evil.example", "Content-Type": "text/plain" }
    const create = await errorOf(await fetch(api, { method: "PUT", headers: evil }))
    expect([create.status, create.code]).toEqual([403, "ACCESS_DENIED"])
    expect((await fetch(`${core.url}/v1/stream/${id}`, { method: "HEAD" })).status).toBe(404)
    await streamWith(id, 1)
    const before = (await fetch(`${core.url}/v1/stream/${id}`, { method: "HEAD" })).headers.get("stream-next-offset")
    const append = await errorOf(await fetch(api, { method: "POST", headers: evil, body: "x" }))
    expect([append.status, append.code]).toEqual([403, "ACCESS_DENIED"])
    expect((await fetch(`${core.url}/v1/stream/${id}`, { method: "HEAD" })).headers.get("stream-next-offset")).toBe(before)
    // The dashboards' own origin may.
    const own = await fetch(api, { method: "POST", headers: { Origin: open.url, "Content-Type": "application/json" }, body: "{}" })
    expect(own.status).toBe(204)
  })

  test("is a clear 4xx JSON error", async () => {
    const cases: Array<[string, RequestInit, number, string]> = [
      ["/admin/api/nothing", {}, 404, "NOT_FOUND"],
      ["/admin/api/streams/acme", {}, 404, "NOT_FOUND"],
      ["/admin/api/whoami", { method: "POST" }, 405, "METHOD_NOT_ALLOWED"],
      ["/admin/api/streams/_default/x", { method: "DELETE" }, 405, "METHOD_NOT_ALLOWED"],
      ["/admin/api/streams/bad%20project/x", {}, 400, "INVALID_PROJECT_ID"],
    ]
    for (const [path, init, status, code] of cases) {
      const e = await errorOf(await fetch(`${open.url}${path}`, init))
      expect([e.status, e.code], path).toEqual([status, code])
    }
  })
})
