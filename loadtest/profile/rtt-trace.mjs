// The upstream benchmark's append → long-poll RTT, request by request: for each of 50
// rounds (after 10 to warm up) on a fresh stream, a long-poll reader is started, then an
// append is sent while the official client reads from the reader's offset (a catch-up read
// at the tail, and a long-poll if that read comes back empty). Prints the RTT p50 and, per
// kind of request, the p50 of when it started and ended after the append was sent, and in
// how many rounds it was made.
// usage: node rtt-trace.mjs BASE_URL
import { DurableStream } from "@durable-streams/client"

const base = process.argv[2]
const plainFetch = globalThis.fetch
let log = []
globalThis.fetch = async (url, init) => {
  const started = performance.now()
  const response = await plainFetch(url, init)
  const u = String(url)
  const kind = (init?.method || "GET") + (u.includes("live=long-poll") ? " long-poll" : u.includes("offset=") ? " catch-up" : "")
  log.push([kind, started, performance.now()])
  return response
}

// Resolves with the first non-empty chunk a long-poll read from `offset` delivers.
async function firstData(stream, offset) {
  const res = await stream.stream({ offset, live: "long-poll" })
  return new Promise((resolve) => {
    const unsubscribe = res.subscribeBytes((chunk) => {
      if (chunk.data.length > 0) {
        unsubscribe()
        res.cancel()
        resolve(chunk)
      }
      return Promise.resolve()
    })
  })
}

const rows = {}
const rtts = []
const message = new Uint8Array(100).fill(42)
for (let k = 0; k < 60; k++) {
  const stream = await DurableStream.create({ url: `${base}/v1/stream/rtt-${Date.now()}-${k}`, contentType: "application/octet-stream" })
  const head = await stream.head()
  const warm = firstData(stream, head.offset)
  await stream.append(message)
  const offset = (await warm).offset
  const read = firstData(stream, offset)
  log = []
  const sent = performance.now()
  await stream.append(message)
  await read
  if (k >= 10) {
    rtts.push(performance.now() - sent)
    for (const [kind, a, b] of log) (rows[kind] ??= []).push([a - sent, b - sent])
  }
  await stream.delete()
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const kinds = Object.entries(rows).map(
  ([kind, v]) => `${kind}: start ${median(v.map((x) => x[0])).toFixed(1)} end ${median(v.map((x) => x[1])).toFixed(1)} in ${v.length}`,
)
console.log(`RTT p50 ${median(rtts).toFixed(2)} ms | ${kinds.join(" | ")}`)
