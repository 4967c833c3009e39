// The example worker that embeds the library (examples/embedded-worker) serves the
// protocol through its own fetch handler and the library's StreamDO.
import { describe, expect, test } from "vitest"

const EMBEDDED = process.env.EMBEDDED_BASE_URL
if (!EMBEDDED) throw new Error("EMBEDDED_BASE_URL is not set; run the tests through scripts/test.sh")

describe("embedded library", () => {
  test("creates, appends and reads a stream", async () => {
    const path = `/v1/stream/embedded-${Date.now()}`
    const put = await fetch(`${EMBEDDED}${path}`, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "a" })
    expect(put.status).toBe(201)
    expect(put.headers.get("x-content-type-options")).toBe("nosniff")
    const post = await fetch(`${EMBEDDED}${path}`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "b" })
    expect(post.status).toBe(204)
    const get = await fetch(`${EMBEDDED}${path}?offset=-1`)
    expect(await get.text()).toBe("ab")
    expect(get.headers.get("stream-up-to-date")).toBe("true")
  })
})
