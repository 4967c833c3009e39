// Sequential latency of a Durable Streams server, or of the floor worker (floor.toml):
// p50 and p99 of GET /health and of a small append, N of each after 50 to warm up; then
// appends per second from 4 concurrent writers over 5 s, as the bench folder's probe.
// usage: node latency.mjs BASE_URL [N=500]
const [base, nArg] = process.argv.slice(2)
const n = Number(nArg || 500)
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

async function measure(request) {
  for (let i = 0; i < 50; i++) await request(i)
  const ms = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    await request(i)
    ms.push(performance.now() - started)
  }
  ms.sort((a, b) => a - b)
  return `p50 ${pct(ms, 0.5).toFixed(2)} p99 ${pct(ms, 0.99).toFixed(2)} ms`
}

const stream = `${base}/v1/stream/latency-${Date.now()}`
await fetch(stream, { method: "PUT", headers: { "content-type": "text/plain" } })
const health = () => fetch(`${base}/health`).then((r) => r.arrayBuffer())
const append = (i) =>
  fetch(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: `x${i}` }).then((r) => r.arrayBuffer())
console.log(`health ${await measure(health)}`)
console.log(`append ${await measure(append)}`)
let appended = 0
const until = performance.now() + 5000
const writer = async (w) => {
  for (let i = 0; performance.now() < until; i++) {
    await append(`${w}-${i}`)
    appended++
  }
}
await Promise.all([0, 1, 2, 3].map(writer))
console.log(`appends/s, 4 writers ${Math.round(appended / 5)}`)
