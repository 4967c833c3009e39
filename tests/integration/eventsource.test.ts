// A browser's own EventSource on a Durable Streams SSE feed, in headless Chromium: a page
// on another origin follows a stream while its SSE sessions end (the embedded example
// runs them 1.5 s long) and while its connection is cut, and reconnects by itself to the
// URL it started with. Every event carries its offset as `id:`, the browser sends the
// last one back as Last-Event-ID, and the feed resumes right there: every message arrives
// exactly once, in order.
import { createServer as createHttpServer, type Server } from "node:http"
import { connect, createServer, type Server as TcpServer, type Socket } from "node:net"
import { chromium, type Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, test } from "vitest"

const EMBEDDED = process.env.EMBEDDED_BASE_URL
if (!EMBEDDED) throw new Error("EMBEDDED_BASE_URL is not set; run the tests through scripts/test.sh")

let browser: Browser
let page: Server
let proxy: TcpServer
const open = new Set<Socket>()

const listen = (server: Server | TcpServer) =>
  new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`)
    }),
  )

/** A TCP relay to the worker, so the test can cut the browser's connections. */
function relay(target: URL): TcpServer {
  return createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    for (const s of [client, upstream]) {
      open.add(s)
      s.on("close", () => open.delete(s))
      s.on("error", () => undefined)
    }
    client.pipe(upstream).pipe(client)
  })
}

/** Cuts every connection through the relay, as a network drop would. */
function cutConnections() {
  for (const s of open) s.destroy()
}

beforeAll(async () => {
  // The page's origin is not the worker's: the feed is read cross-origin, with CORS.
  page = createHttpServer((_, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>reader</title>"))
  proxy = relay(new URL(EMBEDDED!))
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  cutConnections()
  page?.close()
  proxy?.close()
})

describe("a browser's EventSource", () => {
  test("resumes after session ends and a cut connection with every message exactly once", async () => {
    const [pageUrl, proxyUrl] = [await listen(page), await listen(proxy)]
    const stream = `${EMBEDDED}/v1/stream/eventsource-${Date.now()}`
    const put = await fetch(stream, { method: "PUT", headers: { "Content-Type": "application/json" } })
    expect(put.status).toBe(201)
    const feed = `${proxyUrl}${new URL(stream).pathname}?offset=-1&live=sse`
    const tab = await browser.newPage()
    await tab.goto(pageUrl)
    await tab.evaluate((feed) => {
      const w = window as unknown as { received: unknown[]; ids: string[]; errors: number; opens: number }
      Object.assign(w, { received: [], ids: [], errors: 0, opens: 0 })
      const source = new EventSource(feed)
      source.onopen = () => w.opens++
      source.onerror = () => w.errors++
      source.addEventListener("data", (e) => {
        const event = e as MessageEvent<string>
        w.received.push(...(JSON.parse(event.data) as unknown[]))
        w.ids.push(event.lastEventId)
      })
    }, feed)
    const post = (n: number) =>
      fetch(stream, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ n }) })
    const state = () =>
      tab.evaluate(() => {
        const w = window as unknown as { received: { n: number }[]; ids: string[]; errors: number; opens: number }
        return { received: w.received.map((m) => m.n), ids: w.ids, errors: w.errors, opens: w.opens }
      })
    const until = async (ready: (s: Awaited<ReturnType<typeof state>>) => boolean, what: string) => {
      for (let i = 0; i < 200; i++) {
        const s = await state()
        if (ready(s)) return s
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`${what}: ${JSON.stringify(await state())}`)
    }
    await until((s) => s.opens >= 1, "the feed never opened")
    // 50 messages over several 1.5 s sessions; the connection is cut twice on the way.
    for (let n = 0; n < 50; n++) {
      expect((await post(n)).status).toBeLessThan(300)
      if (n === 15 || n === 35) {
        await until((s) => s.received.length >= n + 1, `message ${n} never arrived`)
        cutConnections()
      }
      await new Promise((r) => setTimeout(r, 80))
    }
    const done = await until((s) => s.received.length >= 50, "not every message arrived")
    // Anything sent twice would arrive within another session.
    await new Promise((r) => setTimeout(r, 2_000))
    const after = await state()
    expect(after.received).toEqual(Array.from({ length: 50 }, (_, n) => n))
    // The browser reconnected by itself: after each cut and each ended session.
    expect(done.errors).toBeGreaterThanOrEqual(2)
    expect(after.opens).toBeGreaterThanOrEqual(3)
    // Each event's id is the offset after it, so they only grow.
    expect(after.ids.every((id, i) => /^\d+_\d+$/.test(id) && (i === 0 || id > after.ids[i - 1]))).toBe(true)
    await tab.close()
  }, 90_000)

  test("a Last-Event-ID that is not an offset is a 400, and one from elsewhere resumes there", async () => {
    const stream = `${EMBEDDED}/v1/stream/eventsource-bad-${Date.now()}`
    await fetch(stream, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "ab" })
    const bad = await fetch(`${stream}?offset=-1&live=sse`, { headers: { "Last-Event-ID": "now" } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("INVALID_OFFSET")
    // Long-polls ignore it: only an EventSource sends it, and only for SSE.
    const poll = await fetch(`${stream}?offset=-1`, { headers: { "Last-Event-ID": "garbage" } })
    expect([poll.status, await poll.text()]).toEqual([200, "ab"])
    // The tail as Last-Event-ID: nothing before it is sent again.
    const tail = poll.headers.get("stream-next-offset")!
    const controller = new AbortController()
    const resumed = await fetch(`${stream}?offset=-1&live=sse`, { headers: { "Last-Event-ID": tail }, signal: controller.signal })
    expect(resumed.status).toBe(200)
    const reader = resumed.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    controller.abort()
    expect(first).toMatch(new RegExp(`^event: control\\ndata:\\{[^\\n]*\\}\\nid:${tail}\\n\\n`))
    expect(first).not.toContain("event: data")
    // A preflight for it is answered: browsers send one before a cross-origin reconnect.
    const preflight = await fetch(stream, {
      method: "OPTIONS",
      headers: { Origin: "https://reader.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "last-event-id" },
    })
    expect(preflight.status).toBeLessThan(300)
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("last-event-id")
  })
})
