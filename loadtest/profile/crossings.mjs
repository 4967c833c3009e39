// Counts the calls between JavaScript and our wasm per request, by name: every import the
// wasm calls (Headers, Request and Response methods, SQLite, promises...) and every export
// JavaScript calls (handlers, closures, and __wbindgen_malloc/realloc/free, which are the
// allocations the glue makes in wasm memory to pass strings and bytes in).
//
// It runs the built worker under wrangler dev behind an entry module that wraps
// WebAssembly.Instance before the bundle loads, so that each import and export counts
// its calls in the isolate; the counts are read and reset through the inspector. Edge and
// stream object share the isolate under wrangler dev, so a request's counts are both.
// usage: node --experimental-websocket crossings.mjs DIR health|append|read|long-poll [N=200]
// DIR: a worker crate with its build/ (e.g. the repository root after scripts/build.sh).
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { freePort, inspect } from "./tools.mjs"

const [dirArg, mode, nArg] = process.argv.slice(2)
const n = Number(nArg || 200)
const dir = resolve(dirArg)
const work = mkdtempSync(join(tmpdir(), "crossings-"))
writeFileSync(
  join(work, "count.js"),
  `const counts = (globalThis.__crossings = new Map())
const count = (name) => counts.set(name, (counts.get(name) ?? 0) + 1)
const wrap = (name, f) => function (...args) { count(name); return f.apply(this, args) }
const Instance = WebAssembly.Instance
WebAssembly.Instance = function (module, imports) {
  const counted = {}
  for (const [space, fns] of Object.entries(imports)) {
    counted[space] = {}
    for (const [k, f] of Object.entries(fns)) counted[space][k] = typeof f === "function" ? wrap("wasm→js " + k, f) : f
  }
  const instance = new Instance(module, counted)
  const exports = {}
  for (const [k, v] of Object.entries(instance.exports)) exports[k] = typeof v === "function" ? wrap("js→wasm " + k, v) : v
  return { exports }
}
`,
)
const names = [...readFileSync(join(dir, "build/index.js"), "utf8").matchAll(/export\{([^}]*)\}/g)]
  .flatMap((m) => m[1].split(","))
  .map((e) => e.trim().split(/\s+as\s+/).pop())
writeFileSync(
  join(work, "entry.js"),
  `import "./count.js"
export { ${names.filter((x) => x !== "default").join(", ")} } from ${JSON.stringify(join(dir, "build/index.js"))}
export { default } from ${JSON.stringify(join(dir, "build/index.js"))}
`,
)
// The crate's config without its build step, pointing at the counting entry.
const config = readFileSync(join(dir, "wrangler.toml"), "utf8")
  .replace(/^\[build\][\s\S]*?(?=^\[)/m, "")
  .replace(/^main = .*$/m, `main = "entry.js"`)
writeFileSync(join(work, "wrangler.toml"), config)

const [port, inspector] = [await freePort(), await freePort()]
const wrangler = spawn(
  join(dir, "node_modules/.bin/wrangler"),
  ["dev", "-c", "wrangler.toml", "--ip", "127.0.0.1", "--port", `${port}`, "--inspector-port", `${inspector}`,
    "--persist-to", join(work, "state"), "--show-interactive-dev-session=false"],
  { cwd: work, detached: true, stdio: "ignore", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" } },
)
const stop = () => { try { process.kill(-wrangler.pid) } catch {} }
process.on("exit", stop)
const base = `http://127.0.0.1:${port}`
for (let i = 0; ; i++) {
  try { if ((await fetch(`${base}/health`)).ok) break } catch {}
  if (i > 120) throw new Error("the worker did not start")
  await new Promise((r) => setTimeout(r, 500))
}

let context
const { call } = await inspect(`ws://127.0.0.1:${inspector}/ws`, (message) => {
  if (message.method === "Runtime.executionContextCreated") context ??= message.params.context.id
})
// Enabling the domain reports the isolate's context, which evaluations must name.
await call("Runtime.enable")
const evaluate = async (expression) =>
  (await call("Runtime.evaluate", { expression, returnByValue: true, contextId: context }))?.result?.result?.value

const stream = `${base}/v1/stream/crossings-${Date.now()}`
await fetch(stream, { method: "PUT", headers: { "content-type": "text/plain" } })
const append = (i) => fetch(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: `x${i}` })
const request = {
  health: () => fetch(`${base}/health`),
  append,
  // A catch-up read that skips the cache lookup, so that every read reaches the object.
  read: () => fetch(`${stream}?offset=-1`, { headers: { "cache-control": "no-cache" } }),
  // A long-poll at the tail, released by an append: counts are per pair.
  "long-poll": async (i) => {
    const tail = (await fetch(`${stream}?offset=now`)).headers.get("stream-next-offset")
    const waiting = fetch(`${stream}?offset=${tail}&live=long-poll`)
    await new Promise((r) => setTimeout(r, 20))
    await (await append(i)).arrayBuffer()
    return waiting
  },
}[mode]
for (let i = 0; i < 20; i++) await (await request(i)).arrayBuffer()
await new Promise((r) => setTimeout(r, 1500)) // background work of the warm-up settles
await evaluate("globalThis.__crossings.clear()")
for (let i = 0; i < n; i++) await (await request(i)).arrayBuffer()
await new Promise((r) => setTimeout(r, 1500))
const counts = await evaluate("[...globalThis.__crossings]")
if (!counts) throw new Error("no counts: is the inspector proxy on (VSCODE_INSPECTOR_OPTIONS unset)?")
const total = (prefix) => counts.filter(([k]) => k.startsWith(prefix)).reduce((s, [, c]) => s + c, 0) / n
const short = (k) => k.replace(/_[0-9a-f]{16}$/, "").replace(/^(wasm→js|js→wasm) (__wbg_)?/, "$1 ")
console.log(`${mode}: per request, wasm→js ${total("wasm→js").toFixed(1)}, js→wasm ${total("js→wasm").toFixed(1)}`)
for (const [k, c] of counts.sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${(c / n).toFixed(2).padStart(8)}  ${short(k)}`)
}
stop()
process.exit(0)
