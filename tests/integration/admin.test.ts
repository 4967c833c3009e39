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
import { signToken } from "./helpers"
import { freshState, startWorker, startWorkers, type LocalWorker } from "./worker"

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
  ;[open, gated, closed, subscriptions] = await startWorkers([
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

interface Overview {
  source: string
  appendsPerMinute: number
  activeStreams: number
  longPollReaders: number
  sseReaders: number
  series: Array<{ atMs: number; appends: number; bytes: number }>
  hot: Array<{ stream: string; appends: number; bytes: number }>
}

/** The overview once `ready` holds of it (the stream objects report within about 1 s). */
async function overviewWhen(ready: (o: Overview) => boolean): Promise<Overview> {
  let o: Overview | undefined
  for (let i = 0; i < 80; i++) {
    const res = await fetch(`${open.url}/admin/api/overview`)
    expect(res.status, await res.clone().text()).toBe(200)
    o = (await res.json()) as Overview
    if (ready(o)) return o
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`the overview never showed it: ${JSON.stringify(o)}`)
}

describe("the overview", () => {
  test("counts appends, bytes and live readers from the stream objects, and the page shows and refreshes them", async () => {
    const id = `admin-overview-${Date.now()}`
    const key = `_default/${id}`
    const url = `${core.url}/v1/stream/${id}`
    expect((await fetch(url, { method: "PUT", headers: { "Content-Type": "text/plain" } })).status).toBe(201)
    const messages = ["alpha", "bravo", "charlie-delta"]
    for (const m of messages) {
      expect((await fetch(url, { method: "POST", headers: { "Content-Type": "text/plain" }, body: m })).status).toBeLessThan(300)
    }
    const stored = messages.join("").length
    // An SSE reader stays connected while the figures are read, reconnecting when its
    // session ends (every 5 s on this core), as clients do.
    const sse = new AbortController()
    const reading = (async () => {
      while (!sse.signal.aborted) {
        const reader = await fetch(`${url}?offset=now&live=sse`, { signal: sse.signal })
        expect(reader.status).toBe(200)
        await reader.text()
      }
    })().catch(() => undefined)
    try {
      const o = await overviewWhen((o) => o.hot.some((h) => h.stream === key) && o.sseReaders >= 1)
      expect(o.source).toBe("counters")
      expect(o.hot.find((h) => h.stream === key)).toEqual({ stream: key, appends: 3, bytes: stored })
      expect(o.series).toHaveLength(60)
      // Zero-filled, one minute apart, ending with the current minute.
      expect(o.series[59].atMs - o.series[0].atMs).toBe(59 * 60_000)
      expect(o.series[59].atMs).toBe(Math.floor(Date.now() / 60_000) * 60_000)
      expect(o.series.reduce((n, m) => n + m.appends, 0)).toBeGreaterThanOrEqual(3)
      expect(o.activeStreams).toBeGreaterThanOrEqual(1)

      const page = await browser.newPage()
      await page.goto(open.url)
      const row = page.locator("#overview tr", { hasText: key })
      await row.waitFor()
      expect(await row.locator("td").nth(1).textContent()).toBe("3")
      expect(await page.locator("#appends-chart rect").count()).toBe(60)
      const cards = await page.locator("#overview dl").textContent()
      expect(cards).toContain("Live readers")
      expect(cards).toMatch(/[1-9]\d* SSE/)
      expect(await page.locator("#overview-source").textContent()).toContain("METRICS_COUNTERS")
      // The page refreshes itself: another append shows up without a reload.
      expect((await fetch(url, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "echo" })).status).toBeLessThan(300)
      await page.waitForFunction(
        (key) => [...document.querySelectorAll("#overview tr")].some((tr) => tr.textContent?.startsWith(key) && tr.children[1]?.textContent === "4"),
        key, { timeout: 15_000 },
      )
      await page.screenshot({ path: `${SCREENSHOTS}/overview.png`, fullPage: true })
      await page.close()
    } finally {
      sse.abort()
      await reading
    }
    // The reader that left stops counting when its session ends.
    await overviewWhen((o) => o.sseReaders === 0)
  }, 60_000)
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
      ["/admin/api/overview", { method: "DELETE" }, 405, "METHOD_NOT_ALLOWED"],
      ["/admin/api/overview/x", {}, 404, "NOT_FOUND"],
      ["/admin/api/streams/_default/x", { method: "DELETE" }, 405, "METHOD_NOT_ALLOWED"],
      ["/admin/api/streams/bad%20project/x", {}, 400, "INVALID_PROJECT_ID"],
    ]
    for (const [path, init, status, code] of cases) {
      const e = await errorOf(await fetch(`${open.url}${path}`, init))
      expect([e.status, e.code], path).toEqual([status, code])
    }
  })
})

describe("the projects pages, on a core with its registry", () => {
  // A core with auth on, its projects in a local AUTH_KV registry, and an admin worker
  // that edits that registry: both share one local state directory, so one namespace.
  let authCore: LocalWorker
  let admin: LocalWorker
  const DEPLOYMENT_ORIGIN = "https://deployment.example"
  const APP_ORIGIN = "https://app.example"

  beforeAll(async () => {
    const shared = { WRANGLER_REGISTRY_PATH: mkdtempSync(join(tmpdir(), "wrangler-registry-")) }
    const state = freshState()
    authCore = await startWorker(state, {}, "tests/admin/core-registry.toml", shared)
    admin = await startWorker(state, { ADMIN_AUTH: "dev-open" }, "tests/admin/admin-registry.toml", shared)
  }, 240_000)

  afterAll(async () => {
    await admin?.stop()
    await authCore?.stop()
  })

  const projectApi = (path = "", init: RequestInit = {}) =>
    fetch(`${admin.url}/admin/api/projects${path}`, {
      ...init,
      headers: { "Content-Type": "application/json", ...(init.headers ?? {}) },
    })
  const createProject = async (id: string) => {
    const res = await projectApi("", { method: "POST", body: JSON.stringify({ id }) })
    expect(res.status, id).toBe(201)
    return (await res.json()) as { id: string; newSecret: string; keys: Array<{ id: string; primary: boolean }> }
  }
  const showProject = async (id: string) =>
    (await (await projectApi(`/${id}`)).json()) as { public: boolean; corsOrigins: string[]; keys: Array<{ id: string; primary: boolean }> }
  const bearerOf = (secret: string, project: string, scope: "read" | "write") => ({
    Authorization: `Bearer ${signToken(secret, { sub: project, scope, exp: now() + 600 })}`,
  })

  test("a project is created with a secret shown once, which core then accepts", async () => {
    const created = await createProject("proj-create")
    expect(created.newSecret).toMatch(/^[0-9a-f]{64}$/)
    expect(created.keys).toHaveLength(1)
    const shown = await (await projectApi("/proj-create")).text()
    expect(shown).not.toContain(created.newSecret)
    expect(JSON.parse(shown)).toEqual({ id: "proj-create", public: false, corsOrigins: [], keys: created.keys })
    const again = await errorOf(await projectApi("", { method: "POST", body: JSON.stringify({ id: "proj-create" }) }))
    expect([again.status, again.code]).toEqual([409, "PROJECT_EXISTS"])
    // Core takes tokens signed with it at once.
    const stream = `${authCore.url}/v1/proj-create/stream/first`
    const put = await fetch(stream, { method: "PUT", headers: { "Content-Type": "text/plain", ...bearerOf(created.newSecret, "proj-create", "write") }, body: "hi" })
    expect(put.status).toBe(201)
    const forged = await fetch(stream, { headers: bearerOf("guessed", "proj-create", "read") })
    expect(forged.status).toBe(401)
  })

  test("the privacy switch decides whether core answers reads without a token", async () => {
    const { newSecret } = await createProject("proj-public")
    const stream = `${authCore.url}/v1/proj-public/stream/news`
    const write = bearerOf(newSecret, "proj-public", "write")
    expect((await fetch(stream, { method: "PUT", headers: { "Content-Type": "text/plain", ...write }, body: "headline" })).status).toBe(201)
    const anonymous = async () => (await fetch(`${stream}?offset=-1`)).status
    expect(await anonymous()).toBe(401)
    const on = await projectApi("/proj-public/public", { method: "POST", body: JSON.stringify({ public: true }) })
    expect([on.status, ((await on.json()) as { public: boolean }).public]).toEqual([200, true])
    const read = await fetch(`${stream}?offset=-1`)
    expect([read.status, await read.text()]).toEqual([200, "headline"])
    // Anyone may read, not write, and does not learn the stream's reader key.
    expect((await fetch(stream, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" })).status).toBe(401)
    expect((await fetch(stream, { method: "HEAD" })).headers.get("stream-reader-key")).toBeNull()
    await projectApi("/proj-public/public", { method: "POST", body: JSON.stringify({ public: false }) })
    expect(await anonymous()).toBe(401)
    expect((await showProject("proj-public")).public).toBe(false)
  })

  test("a project's CORS origins replace the deployment's, and removing them restores it", async () => {
    const { newSecret } = await createProject("proj-cors")
    const stream = `${authCore.url}/v1/proj-cors/stream/s`
    await fetch(stream, { method: "PUT", headers: { "Content-Type": "text/plain", ...bearerOf(newSecret, "proj-cors", "write") } })
    const allowed = async (origin: string, method = "GET") => {
      const headers = method === "OPTIONS" ? { Origin: origin, "Access-Control-Request-Method": "GET" } : { Origin: origin, ...bearerOf(newSecret, "proj-cors", "read") }
      return (await fetch(`${stream}?offset=-1`, { method, headers })).headers.get("access-control-allow-origin")
    }
    expect([await allowed(DEPLOYMENT_ORIGIN), await allowed(APP_ORIGIN)]).toEqual([DEPLOYMENT_ORIGIN, null])
    const added = await projectApi("/proj-cors/origins", { method: "POST", body: JSON.stringify({ origin: APP_ORIGIN }) })
    expect(((await added.json()) as { corsOrigins: string[] }).corsOrigins).toEqual([APP_ORIGIN])
    for (const method of ["GET", "OPTIONS"]) {
      expect([await allowed(APP_ORIGIN, method), await allowed(DEPLOYMENT_ORIGIN, method)], method).toEqual([APP_ORIGIN, null])
    }
    // A refused read still carries the project's CORS, so the browser can read the error.
    const refused = await fetch(`${stream}?offset=-1`, { headers: { Origin: APP_ORIGIN } })
    expect([refused.status, refused.headers.get("access-control-allow-origin")]).toEqual([401, APP_ORIGIN])
    const removed = await projectApi(`/proj-cors/origins/${encodeURIComponent(APP_ORIGIN)}`, { method: "DELETE" })
    expect(((await removed.json()) as { corsOrigins: string[] }).corsOrigins).toEqual([])
    expect([await allowed(DEPLOYMENT_ORIGIN), await allowed(APP_ORIGIN)]).toEqual([DEPLOYMENT_ORIGIN, null])
  })

  test("keys rotate: a generated key signs, a revoked one stops, and the last cannot go", async () => {
    const { newSecret: first, keys: [firstKey] } = await createProject("proj-keys")
    const stream = `${authCore.url}/v1/proj-keys/stream/s`
    const writeWith = async (secret: string) =>
      (await fetch(stream, { method: "PUT", headers: { "Content-Type": "text/plain", ...bearerOf(secret, "proj-keys", "write") } })).status
    const last = await errorOf(await projectApi(`/proj-keys/keys/${firstKey.id}`, { method: "DELETE" }))
    expect([last.status, last.code]).toEqual([409, "LAST_SIGNING_KEY"])
    expect(last.message).toContain("last signing key")
    expect((await showProject("proj-keys")).keys).toEqual([firstKey])
    const generated = (await (await projectApi("/proj-keys/keys", { method: "POST" })).json()) as { newSecret: string; keys: Array<{ id: string; primary: boolean }> }
    expect(generated.keys.map((k) => k.primary)).toEqual([true, false])
    expect(generated.keys[1]).toEqual({ ...firstKey, primary: false })
    expect([await writeWith(first), await writeWith(generated.newSecret)]).toEqual([201, 200])
    const revoked = await projectApi(`/proj-keys/keys/${firstKey.id}`, { method: "DELETE" })
    expect(((await revoked.json()) as { keys: unknown[] }).keys).toHaveLength(1)
    expect([await writeWith(first), await writeWith(generated.newSecret)]).toEqual([401, 200])
  })

  test("the list pages through every project with cursors", async () => {
    const ids = Array.from({ length: 56 }, (_, i) => `page-${String(i).padStart(2, "0")}`)
    for (const id of ids) await createProject(id)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = (await (await projectApi(cursor ? `?cursor=${encodeURIComponent(cursor)}` : "")).json()) as {
        projects: Array<{ id: string; keys: number; public: boolean; corsOrigins: number }>; cursor: string | null
      }
      expect(page.projects.length).toBeLessThanOrEqual(50)
      seen.push(...page.projects.map((p) => p.id))
      if (pages === 0) expect(page.projects.find((p) => p.id === "page-00")).toEqual({ id: "page-00", keys: 1, public: false, corsOrigins: 0 })
      cursor = page.cursor
      pages++
    } while (cursor && pages < 10)
    expect(pages).toBeGreaterThan(1)
    expect(new Set(seen).size).toBe(seen.length)
    for (const id of [...ids, "proj-create", "proj-keys"]) expect(seen, id).toContain(id)
  }, 60_000)

  test("a project's streams are listed with their own figures, and pages through", async () => {
    const { newSecret } = await createProject("proj-streams")
    const write = bearerOf(newSecret, "proj-streams", "write")
    const core = (id: string) => `${authCore.url}/v1/proj-streams/stream/${id}`
    // 52 streams: more than one page of 50.
    for (let i = 0; i < 52; i++) {
      const id = `s-${String(i).padStart(2, "0")}`
      expect((await fetch(core(id), { method: "PUT", headers: { "Content-Type": "application/json", ...write } })).status).toBe(201)
    }
    for (const m of [{ n: 1 }, { n: 2 }, { n: 3 }]) {
      await fetch(core("s-00"), { method: "POST", headers: { "Content-Type": "application/json", ...write }, body: JSON.stringify(m) })
    }
    await fetch(core("s-01"), { method: "POST", headers: { "Content-Type": "application/json", "Stream-Closed": "true", ...write }, body: "{}" })
    expect((await fetch(core("s-51"), { method: "DELETE", headers: write })).status).toBe(204)
    type Page = { streams: Array<{ id: string; messages: number; bytes: number; lastWriteAt: number; closed: boolean; createdAt: number }>; next: string | null; total: number }
    const first = (await (await projectApi("/proj-streams/streams")).json()) as Page
    expect([first.streams.length, first.next, first.total]).toEqual([50, "s-49", 51])
    const s0 = first.streams[0]
    // Its bytes are its log's, which is where core's offsets point: the tail's position.
    const tail = (await fetch(core("s-00"), { method: "HEAD", headers: write })).headers.get("stream-next-offset") ?? ""
    expect([s0.id, s0.messages, s0.bytes, s0.closed]).toEqual(["s-00", 3, Number(tail.split("_")[1]), false])
    expect(s0.lastWriteAt).toBeGreaterThan(s0.createdAt - 1)
    expect([first.streams[1].id, first.streams[1].closed, first.streams[1].messages]).toEqual(["s-01", true, 1])
    expect(first.streams[2].lastWriteAt).toBe(first.streams[2].createdAt)
    const second = (await (await projectApi(`/proj-streams/streams?after=${first.next}`)).json()) as Page
    // The deleted stream is gone from the list.
    expect([second.streams.map((s) => s.id), second.next]).toEqual([["s-50"], null])
  }, 60_000)

  test("bad input to every projects route is a clear 4xx JSON error, and changes nothing", async () => {
    await createProject("proj-bad")
    const before = await showProject("proj-bad")
    const cases: Array<[string, RequestInit, number, string]> = [
      ["", { method: "POST", body: "{" }, 400, "INVALID_BODY"],
      ["", { method: "POST", body: JSON.stringify({ id: "bad id" }) }, 400, "INVALID_PROJECT_ID"],
      ["", { method: "POST", body: JSON.stringify({ id: "x", extra: 1 }) }, 400, "INVALID_BODY"],
      ["", { method: "DELETE" }, 405, "METHOD_NOT_ALLOWED"],
      ["/bad%20id", {}, 400, "INVALID_PROJECT_ID"],
      ["/nobody", {}, 404, "PROJECT_NOT_FOUND"],
      ["/nobody/keys", { method: "POST" }, 404, "PROJECT_NOT_FOUND"],
      ["/proj-bad/public", { method: "POST", body: JSON.stringify({ public: "yes" }) }, 400, "INVALID_BODY"],
      ["/proj-bad/public", { method: "GET" }, 405, "METHOD_NOT_ALLOWED"],
      ["/proj-bad/origins", { method: "POST", body: JSON.stringify({ origin: "not an origin" }) }, 400, "INVALID_BODY"],
      ["/proj-bad/origins", { method: "POST", body: JSON.stringify({ origin: "https://a.example/path" }) }, 400, "INVALID_BODY"],
      ["/proj-bad/keys/0000000000000000", { method: "DELETE" }, 404, "NOT_FOUND"],
      ["/proj-bad/streams", { method: "POST" }, 405, "METHOD_NOT_ALLOWED"],
      ["/proj-bad/other", {}, 404, "NOT_FOUND"],
      ["/proj-bad/public", { method: "POST", headers: { Origin: "https://evil.example" }, body: JSON.stringify({ public: true }) }, 403, "ACCESS_DENIED"],
      ["", { method: "POST", headers: { Origin: "https://evil.example" }, body: JSON.stringify({ id: "proj-evil" }) }, 403, "ACCESS_DENIED"],
    ]
    for (const [path, init, status, code] of cases) {
      const e = await errorOf(await projectApi(path, init))
      expect([e.status, e.code], `${init.method ?? "GET"} ${path}`).toEqual([status, code])
      expect(e.message.length, path).toBeGreaterThan(0)
    }
    expect(await showProject("proj-bad")).toEqual(before)
    expect((await projectApi("/proj-evil")).status).toBe(404)
  })

  test("in the browser: create a project, switch its privacy, edit origins and keys, and create a stream", async () => {
    const page = await browser.newPage()
    await page.goto(`${admin.url}/#/projects`)
    await page.locator('button:has-text("Create project")').waitFor()
    await page.fill('input[name="id"]', "proj-browser")
    await page.click('button:has-text("Create project")')
    const secret = page.locator("#new-secret code")
    await secret.waitFor()
    const createdSecret = (await secret.textContent()) ?? ""
    expect(createdSecret).toMatch(/^[0-9a-f]{64}$/)
    // Earlier tests registered more than a page of projects: More brings the rest.
    const listed = page.locator('#projects a:has-text("proj-browser")')
    for (let i = 0; i < 5 && (await listed.count()) === 0; i++) {
      const rows = await page.locator("#projects tbody tr").count()
      await page.click('button:has-text("More")')
      await page.waitForFunction((n) => document.querySelectorAll("#projects tbody tr").length > n, rows)
    }
    await listed.waitFor()
    await page.screenshot({ path: `${SCREENSHOTS}/projects.png`, fullPage: true })
    await page.click('a:has-text("Open proj-browser")')
    await page.locator("#toggle-public").waitFor()
    expect(await page.locator("#toggle-public").textContent()).toBe("Make public")
    await page.click("#toggle-public")
    await page.locator('#toggle-public:has-text("Make private")').waitFor()
    expect((await showProject("proj-browser")).public).toBe(true)
    await page.fill('input[name="origin"]', APP_ORIGIN)
    await page.click('button:has-text("Add")')
    await page.locator(`td:has-text("${APP_ORIGIN}")`).waitFor()
    expect((await showProject("proj-browser")).corsOrigins).toEqual([APP_ORIGIN])
    await page.click('button:has-text("Generate key")')
    await page.locator("#new-secret code").waitFor()
    expect(await page.locator('button:has-text("Revoke")').count()).toBe(2)
    await page.locator('button:has-text("Revoke")').first().click()
    await page.locator('#actions-log li:has-text("DELETE => 200")').waitFor()
    expect(await page.locator('button:has-text("Revoke")').count()).toBe(1)
    await page.locator('button:has-text("Revoke")').click()
    await page.locator('#actions-log li.error:has-text("LAST_SIGNING_KEY")').waitFor()
    expect((await showProject("proj-browser")).keys).toHaveLength(1)
    await page.locator(`tr:has-text("${APP_ORIGIN}") button:has-text("Remove")`).click()
    await page.locator('td:has-text("None of its own")').or(page.locator('p:has-text("None of its own")')).waitFor()
    expect((await showProject("proj-browser")).corsOrigins).toEqual([])
    // A stream made here is listed with its first message.
    await page.fill('form:has(h2:has-text("Create Stream")) input[name="id"]', "made-here")
    await page.selectOption('form:has(h2:has-text("Create Stream")) select', "text/plain")
    await page.fill('form:has(h2:has-text("Create Stream")) textarea', "first words")
    await page.click('button:has-text("Create stream")')
    const row = page.locator('#streams tr:has-text("made-here")')
    await row.waitFor()
    expect(await row.locator("td").nth(2).textContent()).toBe("1")
    expect(await row.locator("td").nth(3).textContent()).toBe("11 B")
    await page.screenshot({ path: `${SCREENSHOTS}/project.png`, fullPage: true })
    // Made through the admin with auth on, it is protected like any stream: it has a
    // reader key, which a holder of the project's remaining (first) key is told.
    const head = await fetch(`${authCore.url}/v1/proj-browser/stream/made-here`, {
      method: "HEAD", headers: bearerOf(createdSecret, "proj-browser", "read"),
    })
    expect([head.status, head.headers.get("stream-reader-key")?.startsWith("rk_")]).toEqual([200, true])
    await page.close()
  }, 60_000)

  test("an admin without the registry says so, and still lists a project's streams", async () => {
    const e = await errorOf(await fetch(`${open.url}/admin/api/projects`))
    expect([e.status, e.code]).toEqual([503, "REGISTRY_UNCONFIGURED"])
    expect(e.message).toContain("AUTH_KV")
    const id = `listed-${Date.now()}`
    await fetch(`${core.url}/v1/stream/${id}`, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "abc" })
    const page = (await (await fetch(`${open.url}/admin/api/projects/_default/streams`)).json()) as { streams: Array<{ id: string; messages: number }>; total: number }
    expect(page.total).toBeGreaterThan(0)
    const browserPage = await browser.newPage()
    await browserPage.goto(`${open.url}/#/projects/_default`)
    await browserPage.locator("#no-settings").waitFor()
    await browserPage.locator("#streams").waitFor()
    await browserPage.close()
  }, 60_000)
})
