// A CPU profile of a worker under wrangler dev, through wrangler's inspector proxy
// (start the worker with --inspector-port, and without VSCODE_INSPECTOR_OPTIONS) and the
// DevTools protocol's Profiler domain: self time by function over N sequential requests.
// usage: node --experimental-websocket profile.mjs ws://127.0.0.1:INSPECTOR/ws BASE_URL append|health [N=500]
// Functions are named as in wrangler's bundle of build/index.js (.wrangler/tmp/dev-*/index.js);
// line numbers are 0-based, as the protocol gives them.
import { inspect } from "./tools.mjs"

const [inspector, base, mode, nArg] = process.argv.slice(2)
const n = Number(nArg || 500)

const { ws, call } = await inspect(inspector)

const stream = `${base}/v1/stream/profile-${Date.now()}`
await fetch(stream, { method: "PUT", headers: { "content-type": "text/plain" } })
const request = (i) =>
  mode === "health"
    ? fetch(`${base}/health`)
    : fetch(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: `x${i}` })
for (let i = 0; i < 50; i++) await (await request(i)).arrayBuffer()

await call("Profiler.enable")
await call("Profiler.setSamplingInterval", { interval: 50 })
await call("Profiler.start")
const started = performance.now()
for (let i = 0; i < n; i++) await (await request(i)).arrayBuffer()
const wall = performance.now() - started
const { result } = await call("Profiler.stop")

const { nodes, samples, timeDeltas } = result.profile
const byId = new Map(nodes.map((node) => [node.id, node]))
const self = new Map()
let total = 0
samples.forEach((sample, i) => {
  const frame = byId.get(sample).callFrame
  const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber}`
  total += timeDeltas[i] ?? 0
  self.set(key, (self.get(key) ?? 0) + (timeDeltas[i] ?? 0))
})
const idle = [...self].filter(([k]) => /^\((idle|program)\)/.test(k)).reduce((sum, [, us]) => sum + us, 0)
const wasm = [...self].filter(([k]) => /\.wasm/.test(k)).reduce((sum, [, us]) => sum + us, 0)
const perRequest = (us) => (us / 1000 / n).toFixed(3)
console.log(`${mode}: ${n} requests in ${wall.toFixed(0)} ms; busy ${perRequest(total - idle)} ms per request, of which in wasm ${perRequest(wasm)} ms`)
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`)
}
ws.close()
process.exit(0)
