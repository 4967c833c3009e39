// The example worker that embeds the library (examples/embedded-worker) serves the
// protocol through its own fetch handler and the library's StreamDO. scripts/test.sh
// runs it with SSE_SESSION_MS=1500, so it also shows SSE sessions ending and resuming.
import { execFileSync } from "node:child_process"
import { describe, expect, test } from "vitest"

const EMBEDDED = process.env.EMBEDDED_BASE_URL
const STATE = process.env.EMBEDDED_STATE
if (!EMBEDDED || !STATE) throw new Error("EMBEDDED_BASE_URL is not set; run the tests through scripts/test.sh")

/** Queries the example's local D1 admin index with wrangler, as an operator would. */
function adminIndex(sql: string): Record<string, unknown>[] {
  const out = execFileSync(
    "npx",
    ["wrangler", "d1", "execute", "ADMIN_DB", "--local", "--persist-to", STATE!, "--json", "--command", sql],
    { cwd: "examples/embedded-worker", encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  )
  return (JSON.parse(out) as { results: Record<string, unknown>[] }[])[0].results
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const post = (url: string, body: string) =>
  fetch(url, { method: "POST", headers: { "Content-Type": "text/plain" }, body })

/** Reads an SSE response to its end; fails if it is still open after `limitMs`. */
async function readToEnd(res: Response, limitMs: number): Promise<string> {
  const reader = res.body!.getReader()
  const timer = setTimeout(() => reader.cancel(), limitMs)
  let text = ""
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
  }
  clearTimeout(timer)
  return text
}

describe("embedded library", () => {
  test("creates, appends and reads a stream", async () => {
    const path = `/v1/stream/embedded-${Date.now()}`
    const put = await fetch(`${EMBEDDED}${path}`, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "a" })
    expect(put.status).toBe(201)
    expect(put.headers.get("x-content-type-options")).toBe("nosniff")
    expect((await post(`${EMBEDDED}${path}`, "b")).status).toBe(204)
    const get = await fetch(`${EMBEDDED}${path}?offset=-1`)
    expect(await get.text()).toBe("ab")
    expect(get.headers.get("stream-up-to-date")).toBe("true")
    expect(get.headers.get("x-cache")).toBe("MISS")
  })

  test("serves the __ds subscription APIs with the re-exported class: a pull-wake wake on append", async () => {
    const id = `embedded-${Date.now()}`
    const wake = `${EMBEDDED}/v1/stream/wake-${id}`
    const json = { "Content-Type": "application/json" }
    expect((await fetch(wake, { method: "PUT", headers: json, body: "[]" })).status).toBe(201)
    const sub = await fetch(`${EMBEDDED}/v1/stream/__ds/subscriptions/${id}`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ type: "pull-wake", pattern: `jobs-${id}/*`, wake_stream: `wake-${id}` }),
    })
    expect(sub.status).toBe(201)
    await fetch(`${EMBEDDED}/v1/stream/jobs-${id}/a`, { method: "PUT", headers: json, body: '{"n":1}' })
    let events: Array<{ subscription_id: string }> = []
    for (let i = 0; i < 100 && events.length === 0; i++) {
      events = (await (await fetch(`${wake}?offset=-1`)).json()) as typeof events
      if (events.length === 0) await sleep(50)
    }
    expect(events.map((e) => e.subscription_id)).toEqual([id])
  })

  test("an SSE session ends after its lifetime and resumes from the last offset", async () => {
    const url = `${EMBEDDED}/v1/stream/embedded-sse-${Date.now()}`
    await fetch(url, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "first" })
    const started = Date.now()
    const text = await readToEnd(await fetch(`${url}?offset=-1&live=sse`), 10_000)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(text).toContain("data:first")
    const controls = [...text.matchAll(/event: control\ndata:(\{[^}]*\})/g)].map((m) => JSON.parse(m[1]))
    const last = controls[controls.length - 1]
    expect(last.upToDate).toBe(true)
    await post(url, "second")
    const resumed = await fetch(`${url}?offset=${last.streamNextOffset}&live=sse`)
    const more = await readToEnd(resumed, 10_000)
    expect(more).toContain("data:second")
    expect(more).not.toContain("data:first")
  })
})

describe("the optional D1 admin index", () => {
  test("lists each segment once it is written, and forgets it when the stream is deleted", async () => {
    const id = `embedded-admin-${Date.now()}`
    const url = `${EMBEDDED}/v1/stream/${id}`
    const json = { "Content-Type": "application/json" }
    // The example cuts a segment every 5 messages.
    await fetch(url, { method: "PUT", headers: json, body: "[1,2,3,4,5,6]" })
    await fetch(url, { method: "POST", headers: json, body: "[7,8,9,10,11]" })
    let rows: Record<string, unknown>[] = []
    for (let i = 0; i < 40 && rows.length < 2; i++) {
      rows = adminIndex(`SELECT read_seq, start_offset, end_offset FROM segments_admin WHERE stream_id = '_default/${id}' ORDER BY read_seq`)
      if (rows.length < 2) await sleep(100)
    }
    expect(rows).toEqual([
      { read_seq: 0, start_offset: 0, end_offset: 12 },
      { read_seq: 1, start_offset: 12, end_offset: 24 },
    ])
    expect(await (await fetch(`${url}?offset=-1`)).json()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    await fetch(url, { method: "DELETE" })
    for (let i = 0; i < 40 && rows.length > 0; i++) {
      rows = adminIndex(`SELECT read_seq FROM segments_admin WHERE stream_id = '_default/${id}'`)
      if (rows.length > 0) await sleep(100)
    }
    expect(rows).toEqual([])
  }, 30_000)
})
