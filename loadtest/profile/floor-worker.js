// The floor worker (floor.toml): as little as a worker can do for the two requests the
// latency probe makes. GET /health answers at the edge; any other request goes to a
// Durable Object, which stores its body in SQLite and answers 204 — the shape of an
// append, without the protocol.
export class Echo {
  constructor(state) {
    this.state = state
    this.state.storage.sql.exec("CREATE TABLE IF NOT EXISTS appends (body TEXT)")
  }

  async fetch(req) {
    this.state.storage.sql.exec("INSERT INTO appends VALUES (?)", await req.text())
    return new Response(null, { status: 204 })
  }
}

export default {
  async fetch(req, env) {
    const url = new URL(req.url)
    if (url.pathname === "/health") {
      return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } })
    }
    return env.ECHO.get(env.ECHO.idFromName(url.pathname)).fetch(req)
  },
}
