// The edge worker: routing, preflight, health, and headers on every response.
import { describe, expect, test } from "vitest"
import { BASE, create, expectError, expectSecurityHeaders, streamPath, url } from "./helpers"

describe("edge gateway", () => {
  test("health answers 200 with JSON and the security headers", async () => {
    const res = await fetch(`${BASE}/health`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: "ok" })
    expectSecurityHeaders(res)
  })

  test("preflight on any path allows our headers and If-None-Match", async () => {
    const res = await fetch(`${BASE}/no/such/path`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "producer-id, x-custom" },
    })
    expect(res.status).toBe(204)
    expectSecurityHeaders(res)
    const allow = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase()
    for (const h of ["if-none-match", "producer-id", "stream-seq", "stream-forked-from", "x-custom"]) expect(allow).toContain(h)
    expect(res.headers.get("access-control-allow-methods")).toContain("DELETE")
  })

  test("every Stream-* and Producer-* response header is exposed to browsers", async () => {
    const path = streamPath("cors")
    const res = await create(path)
    const exposed = res.headers.get("access-control-expose-headers") ?? ""
    for (const h of [
      "Stream-Next-Offset", "Stream-Cursor", "Stream-Up-To-Date", "Stream-Closed", "Stream-TTL", "Stream-Expires-At",
      "Stream-SSE-Data-Encoding", "Producer-Epoch", "Producer-Seq", "Producer-Expected-Seq", "Producer-Received-Seq", "ETag", "Location",
    ]) expect(exposed).toContain(h)
  })

  test("unknown paths get a JSON 404 with CORS and security headers", async () => {
    await expectError(await fetch(`${BASE}/v2/things`), 404, "NOT_FOUND")
  })

  test("an empty or undecodable stream id is a 400", async () => {
    await expectError(await fetch(`${BASE}/v1/stream/`), 400, "INVALID_STREAM_ID")
    await expectError(await fetch(`${BASE}/v1/stream/%ff%fe`), 400, "INVALID_STREAM_ID")
    await expectError(await fetch(`${BASE}/v1/stream/%zz`), 400, "INVALID_STREAM_ID")
  })

  test("unsupported methods get 405 with Allow", async () => {
    const res = await fetch(url(streamPath("method")), { method: "PATCH" })
    expect(res.headers.get("allow")).toContain("POST")
    await expectError(res, 405, "METHOD_NOT_ALLOWED")
  })

  test("the reserved __ds namespace never names a stream", async () => {
    // Not a control route: 404, and nothing is created, however the path is spelled.
    for (const path of ["/v1/stream/__ds/mine", "/v1/stream/%5F%5Fds/mine", "/v1/acme/stream/__ds/x/y"]) {
      await expectError(await fetch(`${BASE}${path}`, { method: "PUT", headers: { "Content-Type": "text/plain" } }), 404)
      await expectError(await fetch(`${BASE}${path}?offset=-1`), 404)
    }
    // A control route is answered as one: a subscription PUT without a body is a 400.
    await expectError(await fetch(`${BASE}/v1/stream/__ds/subscriptions/x`, { method: "PUT" }), 400)
  })

  test("ids may contain slashes and percent-encoded characters", async () => {
    const path = `${streamPath("nested")}/a%20b/c`
    const res = await create(path, "text/plain", "x")
    expect(res.headers.get("location")).toBe(url(path))
    const read = await fetch(url(path))
    expect(await read.text()).toBe("x")
  })
})
