// The floor worker (floor.toml): the least a worker can do and still answer every probe
// in docs/performance.md's table, so that its figures bound what any implementation of
// the protocol can reach under wrangler dev.
//
// What it keeps of the protocol is only what the probes and the upstream client read:
// PUT creates, POST appends (one SQLite insert), GET reads after an offset and, with
// live=long-poll, waits at the tail; HEAD and DELETE. Offsets are padded counters.
// What it leaves out is everything that costs and that the protocol requires: JSON,
// producers, closing, expiry, checks of the input, auth, CORS, cursors that rotate,
// segments, and the edge cache (FLOOR_CACHE = "1" keeps its lookup before every read
// and its store of each long-poll answer). Identical long-polls in one isolate share one object
// request, as in both real implementations, so that a crowd of readers costs one object
// long-poll per append.
const LONG_POLL_MS = 4000
const ROW_BYTES = 1 << 20
const offset = (n) => String(n).padStart(16, "0")

export class Echo {
  constructor(state) {
    this.sql = state.storage.sql
    this.sql.exec("CREATE TABLE IF NOT EXISTS log (n INTEGER PRIMARY KEY, body BLOB)")
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
    const row = this.sql.exec("SELECT v FROM meta WHERE k = 'type'").toArray()[0]
    this.type = row ? row.v : null
    this.tail = this.sql.exec("SELECT coalesce(max(n), 0) AS n FROM log").one().n
    this.waiters = []
  }

  async fetch(req) {
    const url = new URL(req.url)
    switch (req.method) {
      case "PUT": {
        if (this.type === null) {
          this.type = req.headers.get("content-type") || "application/octet-stream"
          this.sql.exec("INSERT INTO meta VALUES ('type', ?)", this.type)
        }
        return new Response(null, { status: 201, headers: this.position() })
      }
      case "POST": {
        // SQLite takes at most 2 MB in one value: a larger body is stored as several rows.
        const body = new Uint8Array(await req.arrayBuffer())
        for (let at = 0; at < body.length; at += ROW_BYTES) {
          this.sql.exec("INSERT INTO log (body) VALUES (?)", body.subarray(at, at + ROW_BYTES))
          this.tail += 1
        }
        for (const wake of this.waiters.splice(0)) wake()
        return new Response(null, { status: 204, headers: this.position() })
      }
      case "HEAD":
        return new Response(null, { status: this.type === null ? 404 : 200, headers: this.position() })
      case "DELETE":
        this.sql.exec("DELETE FROM log")
        this.sql.exec("DELETE FROM meta")
        this.type = null
        this.tail = 0
        return new Response(null, { status: 204 })
      default:
        return this.read(url.searchParams)
    }
  }

  async read(params) {
    if (this.type === null) return new Response(null, { status: 404 })
    const at = params.get("offset")
    const from = at === "now" ? this.tail : at === null || at === "-1" ? 0 : Number(at)
    if (from >= this.tail && params.get("live") === "long-poll") {
      const woken = new Promise((wake) => this.waiters.push(wake))
      await Promise.race([woken, new Promise((later) => setTimeout(later, LONG_POLL_MS))])
    }
    if (from >= this.tail) {
      // At the tail: a long-poll that timed out is a 204, a catch-up read an empty 200.
      const status = params.get("live") === "long-poll" ? 204 : 200
      return new Response(null, { status, headers: this.position() })
    }
    const rows = this.sql.exec("SELECT body FROM log WHERE n > ? ORDER BY n", from).toArray()
    const parts = rows.map((r) => new Uint8Array(r.body))
    const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    parts.reduce((at, p) => (body.set(p, at), at + p.length), 0)
    return new Response(body, { headers: this.position() })
  }

  position() {
    return {
      "content-type": this.type || "application/octet-stream",
      "stream-next-offset": offset(this.tail),
      "stream-up-to-date": "true",
      "stream-cursor": "1",
    }
  }
}

// One object request per distinct long-poll URL in this isolate; the others wait for it.
// A follower also waits on a timer of its own: a request whose only pending work is a
// promise of another request is cancelled by the runtime.
const inFlight = new Map()
const FOLLOWER_BOUND_MS = LONG_POLL_MS + 5000

async function collapsed(stub, req, env, ctx) {
  // An identical request on its way is joined before any cache lookup, as ours does.
  let shared = inFlight.get(req.url)
  if (!shared && env.FLOOR_CACHE === "1") {
    const hit = await caches.default.match(req.url)
    if (hit) return hit
    shared = inFlight.get(req.url)
  }
  if (!shared) {
    shared = stub.fetch(req.url).then(async (r) => ({ status: r.status, headers: [...r.headers], body: await r.arrayBuffer() }))
    inFlight.set(req.url, shared)
    shared.finally(() => inFlight.delete(req.url))
    if (env.FLOOR_CACHE === "1") {
      // The leader stores an answer with data, after its response, for other isolates.
      ctx.waitUntil(
        shared.then(({ status, headers, body }) => {
          if (status !== 200) return
          const stored = new Response(body, { headers: [...headers, ["cache-control", "public, max-age=20"]] })
          return caches.default.put(req.url, stored)
        }),
      )
    }
  }
  let timer
  const bound = new Promise((_, fail) => (timer = setTimeout(() => fail(new Error("leader lost")), FOLLOWER_BOUND_MS)))
  const { status, headers, body } = await Promise.race([shared, bound]).finally(() => clearTimeout(timer))
  return new Response(status === 204 ? null : body, { status, headers })
}

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url)
    if (url.pathname === "/health") {
      return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } })
    }
    const stub = env.ECHO.get(env.ECHO.idFromName(url.pathname))
    if (req.method === "GET" && url.searchParams.get("live") === "long-poll") return collapsed(stub, req, env, ctx)
    // With FLOOR_CACHE = "1", a read first looks itself up in the Workers Cache, as a
    // design that serves reads through the edge cache must; long-poll leaders store what
    // they get (above).
    if (req.method === "GET" && env.FLOOR_CACHE === "1") {
      const hit = await caches.default.match(req.url)
      if (hit) return hit
    }
    return stub.fetch(req)
  },
}
