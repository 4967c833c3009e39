// Shared helpers for the integration tests. Each test uses its own stream names, so
// tests never see each other's data.
import { createHmac } from "node:crypto"
import { connect } from "node:net"
import { expect } from "vitest"

export const BASE = process.env.STREAMS_BASE_URL ?? ""
if (!BASE) throw new Error("STREAMS_BASE_URL is not set; run the tests through scripts/test.sh")

/** The long-poll timeout the worker under test runs with. */
export const LONG_POLL_TIMEOUT_MS = Number(process.env.LONG_POLL_TIMEOUT_MS ?? 1000)

let counter = 0

/** A fresh stream path, unique to this run. */
export function streamPath(label: string): string {
  counter += 1
  return `/v1/stream/it-${label}-${Date.now()}-${process.pid}-${counter}`
}

export function url(path: string): string {
  return `${BASE}${path}`
}

export async function create(path: string, contentType = "text/plain", body?: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(url(path), { method: "PUT", headers: { "Content-Type": contentType, ...headers }, body })
  expect(res.status, `create ${path}`).toBe(201)
  return res
}

export async function append(path: string, body: string | Uint8Array, contentType = "text/plain", headers: Record<string, string> = {}) {
  return fetch(url(path), { method: "POST", headers: { "Content-Type": contentType, ...headers }, body })
}

/** Reads every page from `offset` to the tail by following Stream-Next-Offset. */
export async function readPages(path: string, offset = "-1"): Promise<{ pages: Uint8Array[]; offset: string }> {
  const pages: Uint8Array[] = []
  for (;;) {
    const res = await fetch(url(`${path}?offset=${offset}`))
    expect(res.status).toBe(200)
    pages.push(new Uint8Array(await res.arrayBuffer()))
    offset = res.headers.get("stream-next-offset") ?? ""
    if (res.headers.get("stream-up-to-date") === "true") return { pages, offset }
  }
}

/** Reads the whole stream from `offset` as bytes. */
export async function readAll(path: string, offset = "-1"): Promise<{ bytes: Uint8Array; offset: string; pages: number }> {
  const { pages: parts, offset: end } = await readPages(path, offset)
  const total = parts.reduce((n, p) => n + p.length, 0)
  const bytes = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    bytes.set(p, at)
    at += p.length
  }
  return { bytes, offset: end, pages: parts.length }
}

/** Reads a JSON stream from `offset` as one array of messages. */
export async function readJson(path: string, offset = "-1"): Promise<unknown[]> {
  const { pages } = await readPages(path, offset)
  return pages.flatMap((p) => JSON.parse(new TextDecoder().decode(p)) as unknown[])
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes)
}

export function expectSecurityHeaders(res: Response) {
  expect(res.headers.get("x-content-type-options")).toBe("nosniff")
  expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin")
  expect(res.headers.get("access-control-allow-origin")).toBe("*")
}

/** Asserts a JSON error reply: status, `{"error":{"code","message"}}`, no-store, security headers. */
export async function expectError(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status)
  expectSecurityHeaders(res)
  expect(res.headers.get("cache-control")).toBe("no-store")
  expect(res.headers.get("content-type")).toBe("application/json")
  const body = (await res.json()) as { error: { code: string; message: string } }
  expect(typeof body.error.code).toBe("string")
  expect(body.error.message.length).toBeGreaterThan(0)
  if (code) expect(body.error.code).toBe(code)
}

export async function tailOf(path: string): Promise<string> {
  const res = await fetch(url(path), { method: "HEAD" })
  expect(res.status).toBe(200)
  return res.headers.get("stream-next-offset") ?? ""
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * How the edge served a cacheable read, from its Server-Timing `cache` entry: `hit`,
 * `revalidated`, `coalesced`, `miss`, `bypass` or `error`, with the reason when an answer
 * it fetched was not stored (`miss (not stored: at-tail)`). See docs/operations.md.
 */
export function cacheDesc(res: Response): string | undefined {
  return /(?:^|, )cache;dur=[\d.]+;desc="([^"]*)"/.exec(res.headers.get("server-timing") ?? "")?.[1]
}

/** The stream object's request counters (the worker runs with DEBUG_STATS=1). */
export async function doStats(path: string): Promise<{
  requests: { total: number; by_kind: Record<string, number> }
  reads: { storage: number; reused: number }
  waiting: number
  storage: { hot_messages: number; hot_bytes: number; segments: number }
}> {
  const id = path.replace(/^\/v1\/stream\//, "")
  const res = await fetch(`${BASE}/debug/stats/${id}`)
  expect(res.status).toBe(200)
  return res.json()
}

/** How many requests of `kind` the stream object has served. */
export async function doRequests(path: string, kind: string): Promise<number> {
  return (await doStats(path)).requests.by_kind[kind] ?? 0
}

/** A stream whose first read ends before the tail (more than one 1 MiB chunk). */
export async function createMultiChunk(path: string, extra: Record<string, string> = {}) {
  await create(path, "application/octet-stream", new Uint8Array(1024 * 1024 + 100).fill(7), extra)
}

/** One HTTP/1.1 response read off a raw socket. */
export interface RawResponse {
  status: number
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>
  body: string
}

/** Parses the complete responses at the start of `data`. */
function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = []
  let at = 0
  for (;;) {
    const headEnd = data.indexOf("\r\n\r\n", at)
    if (headEnd < 0) return out
    const [statusLine, ...lines] = data.subarray(at, headEnd).toString("latin1").split("\r\n")
    const status = Number(statusLine.split(" ")[1])
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(":")
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value
    }
    let bodyStart = headEnd + 4
    let body: Buffer
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0)
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"])
      if (data.length < bodyStart + length) return out
      body = data.subarray(bodyStart, bodyStart + length)
      bodyStart += length
    } else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const parts: Buffer[] = []
      for (;;) {
        const sizeEnd = data.indexOf("\r\n", bodyStart)
        if (sizeEnd < 0) return out
        const size = parseInt(data.subarray(bodyStart, sizeEnd).toString("latin1"), 16)
        if (data.length < sizeEnd + 2 + size + 2) return out
        parts.push(data.subarray(sizeEnd + 2, sizeEnd + 2 + size))
        bodyStart = sizeEnd + 2 + size + 2
        if (size === 0) break
      }
      body = Buffer.concat(parts)
    } else {
      return out
    }
    out.push({ status, headers, body: body.toString("latin1") })
    at = bodyStart
  }
}

/**
 * Sends `request` as raw bytes to the worker and returns the responses that arrive
 * complete, once `expect` of them have (or the connection ends, or `waitMs` passes).
 * `halfClose` ends the sending side after the request while still reading.
 */
export function rawHttp(
  request: string | Buffer,
  { expect = 1, halfClose = false, waitMs = 5000 }: { expect?: number; halfClose?: boolean; waitMs?: number } = {},
): Promise<RawResponse[]> {
  const { hostname, port } = new URL(BASE)
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname)
    let data = Buffer.alloc(0)
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(parseResponses(data))
    }
    const timer = setTimeout(finish, waitMs)
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk])
      if (parseResponses(data).length >= expect) finish()
    })
    socket.on("end", finish)
    socket.on("close", finish)
    socket.on("error", finish)
    socket.write(typeof request === "string" ? Buffer.from(request, "latin1") : request)
    if (halfClose) socket.end()
  })
}

/** The request head for a raw request to `path`, with the right Host and `headers`. */
export function rawHead(method: string, path: string, headers: string[] = []): string {
  return [`${method} ${path} HTTP/1.1`, `Host: ${new URL(BASE).host}`, ...headers, "", ""].join("\r\n")
}

/**
 * Sends the head and part of a body, waits until the worker is reading it, then
 * destroys the socket, as a client that crashes mid-upload. Resolves with whatever the
 * client got before it went away (nothing, normally).
 */
export function abortUpload(head: string, partial: Buffer, waitMs = 300): Promise<string> {
  const { hostname, port } = new URL(BASE)
  return new Promise((resolve) => {
    const got: Buffer[] = []
    const socket = connect(Number(port), hostname, () => {
      socket.write(Buffer.concat([Buffer.from(head, "latin1"), partial]))
      setTimeout(() => {
        socket.destroy()
        resolve(Buffer.concat(got).toString("latin1"))
      }, waitMs)
    })
    socket.on("data", (chunk) => got.push(chunk))
    socket.on("error", () => {})
  })
}

/** Asserts a raw JSON error reply, like `expectError`. */
export function expectRawError(res: RawResponse | undefined, status: number, code?: string) {
  expect(res, "no response").toBeDefined()
  const r = res!
  expect(r.status).toBe(status)
  expect(r.headers["x-content-type-options"]).toBe("nosniff")
  expect(r.headers["cross-origin-resource-policy"]).toBe("cross-origin")
  expect(r.headers["access-control-allow-origin"]).toBe("*")
  expect(r.headers["cache-control"]).toBe("no-store")
  expect(r.headers["content-type"]).toBe("application/json")
  const body = JSON.parse(r.body) as { error: { code: string; message: string } }
  expect(body.error.message.length).toBeGreaterThan(0)
  if (code) expect(body.error.code).toBe(code)
}

/** A stream's tail and full content, to check that a rejected request changed nothing. */
export async function snapshot(path: string): Promise<{ tail: string; content: string }> {
  const { bytes, offset } = await readAll(path)
  return { tail: offset, content: Buffer.from(bytes).toString("base64") }
}

/** An HS256 token of `claims`, signed with a project's signing `secret` as core checks it. */
export function signToken(secret: string, claims: Record<string, unknown>): string {
  const b64url = (v: string) => Buffer.from(v).toString("base64url")
  const head = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`
}
