// Cold start of a Durable Streams server under `wrangler dev`, and the part of it that
// grows with the upload (compiling the code), measured directly in Node.
//
// usage:
//   node cold-start.mjs URL
//       one server that was just started and has not been asked anything yet: the first
//       GET /health, a second one, then the first PUT + POST (a fresh object) and the same
//       on a second fresh object.
//   node cold-start.mjs [--rounds N] NAME='COMMAND' [NAME='COMMAND' ...]
//       for each round and each NAME in turn (alternating), spawns COMMAND through bash in
//       a process group of its own, with {port}, {inspector} and {state} replaced by two
//       free ports and a fresh directory, polls the port with a TCP connect until it opens,
//       then times the same requests as above, and stops the group before the next one.
//       Also the time from spawn to the port opening, to wrangler's "Ready on" line and to
//       the first 200. Medians at the end. --settle MS waits MS after the port opens before
//       the first request, so that it finds the worker loaded: the first request's own cost. Every COMMAND gets the same environment: no inspector proxy
//       (VSCODE_INSPECTOR_OPTIONS={}), no metrics, CI=1, its own dev registry.
//   node cold-start.mjs --bare [--rounds N] NAME=DIR [NAME=DIR ...]
//       the same without wrangler: DIR is what `wrangler deploy --dry-run --outdir DIR`
//       wrote (the bundle as it would be uploaded), served by workerd alone from a config
//       with its modules and no bindings, so only GET /health is asked. NAME=empty (no
//       DIR) is a worker that answers at once: workerd's own start, to subtract. Spawn →
//       port open is the script load (compile and top-level evaluation); first /health is
//       what the first request pays on top.
//   node cold-start.mjs --compile [--runs N] FILE...
//       median time to compile each file as the runtime would: *.wasm with
//       WebAssembly.compile (and instantiation against stub imports), *.js / *.mjs as an
//       ES module with vm.SourceTextModule (re-runs itself with --experimental-vm-modules).
//       V8 compiles wasm lazily by default (functions on their first call); run as
//       `node --no-wasm-lazy-compilation cold-start.mjs --compile ...` for the whole module.
import { spawn } from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./tools.mjs"

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (ms) => (ms === undefined || Number.isNaN(ms) ? "-" : ms >= 100 ? ms.toFixed(0) : ms.toFixed(2))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  if (i < 0) return fallback
  const value = args[i + 1]
  args = [...args.slice(0, i), ...args.slice(i + 2)]
  return value
}

// ---- compile mode ----------------------------------------------------------------------
async function compileMode() {
  args.shift()
  const runs = Number(option("--runs", 9))
  const vm = await import("node:vm")
  // Node 20's V8 needs a flag for the reference types our wasm uses (noexternref).
  const flags = Number(process.versions.node.split(".")[0]) < 22 ? ["--experimental-wasm-gc"] : []
  if (!process.env.COLD_START_CHILD) {
    const child = spawn(
      process.execPath,
      [...process.execArgv, ...flags, "--experimental-vm-modules", "--no-warnings", ...process.argv.slice(1)],
      { stdio: "inherit", env: { ...process.env, COLD_START_CHILD: "1" } },
    )
    child.on("exit", (code) => process.exit(code ?? 1))
  } else {
    for (const file of args) {
      const bytes = readFileSync(file)
      const compile = [], instantiate = []
      for (let i = 0; i < runs; i++) {
        if (file.endsWith(".wasm")) {
          let started = performance.now()
          const module = await WebAssembly.compile(bytes)
          compile.push(performance.now() - started)
          const imports = {}
          for (const { module: m, name, kind } of WebAssembly.Module.imports(module)) {
            imports[m] ??= {}
            imports[m][name] =
              kind === "function" ? () => {} : kind === "memory" ? new WebAssembly.Memory({ initial: 1 }) : undefined
          }
          started = performance.now()
          try {
            await WebAssembly.instantiate(module, imports)
            instantiate.push(performance.now() - started)
          } catch {}
        } else {
          // A fresh source string each run, so V8's compilation cache cannot answer.
          const code = `${bytes.toString("utf8")}\n//${i}-${Math.random()}`
          const started = performance.now()
          new vm.SourceTextModule(code, { identifier: file })
          compile.push(performance.now() - started)
        }
      }
      const inst = instantiate.length ? `, instantiate median ${fmt(median(instantiate))} ms` : ""
      console.log(
        `${file} (${(bytes.length / 1024).toFixed(0)} KiB): compile median ${fmt(median(compile))} ms ` +
          `[${compile.map(fmt).join(" ")}]${inst}`,
      )
    }
  }
}

// ---- server modes ----------------------------------------------------------------------
async function timed(url, init) {
  const started = performance.now()
  const res = await fetch(url, init)
  await res.arrayBuffer()
  return { ms: performance.now() - started, status: res.status }
}

// The first GET /health, a second one, then (unless `healthOnly`) the first PUT + POST on a
// fresh stream (the process's first object) and the same on a second fresh stream (an
// object in a runtime that has already run one).
async function firstRequests(base, tag, healthOnly = false) {
  const out = {}
  const h1 = await timed(`${base}/health`)
  out.health1 = h1.ms
  out.health1Status = h1.status
  out.health2 = (await timed(`${base}/health`)).ms
  for (const k of healthOnly ? [] : [1, 2]) {
    const stream = `${base}/v1/stream/cold-${tag}-${k}-${Date.now()}`
    const put = await timed(stream, { method: "PUT", headers: { "content-type": "text/plain" } })
    const post = await timed(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" })
    if (put.status >= 300 || post.status >= 300) throw new Error(`${stream}: PUT ${put.status}, POST ${post.status}`)
    out[`put${k}`] = put.ms
    out[`post${k}`] = post.ms
  }
  return out
}

const portOpen = (port) =>
  new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => (socket.destroy(), resolve(false)))
  })

let settle = 0 // ms to wait after the port opens before the first request (--settle)
let bare = false // targets are bundles for workerd alone (--bare)

// A workerd config serving the bundle in `dir` (its first .js file is the main module),
// or a worker that answers at once when `dir` is empty; the socket's address is set on
// the command line. Returns the command that serves it.
function bareCommand(name, dir) {
  const work = mkdtempSync(join(tmpdir(), `bare-${name}-`))
  // capnp embeds files relative to the config, so the modules are copied beside it.
  let modules
  if (!dir) {
    writeFileSync(join(work, "empty.js"), 'export default { fetch() { return new Response("ok") } }\n')
    modules = [["empty.js", "esModule"]]
  } else {
    const files = readdirSync(dir).sort()
    for (const f of files.filter((f) => /\.(js|wasm)$/.test(f))) copyFileSync(join(dir, f), join(work, f))
    modules = [
      ...files.filter((f) => f.endsWith(".js")).map((f) => [f, "esModule"]),
      ...files.filter((f) => f.endsWith(".wasm")).map((f) => [f, "wasm"]),
    ]
  }
  const list = modules.map(([n, kind]) => `(name = ${JSON.stringify(n)}, ${kind} = embed ${JSON.stringify(n)})`)
  writeFileSync(
    join(work, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${list.join(", ")}],
  compatibilityDate = ${JSON.stringify(compatDate)},
  compatibilityFlags = ["nodejs_compat"],
);
`,
  )
  const workerd = join(import.meta.dirname, "../../node_modules/@cloudflare/workerd-linux-64/bin/workerd")
  return `cd ${JSON.stringify(work)} && exec ${JSON.stringify(workerd)} serve --experimental config.capnp --socket-addr http=127.0.0.1:{port}`
}
let compatDate = "2026-04-01"
let running = null // the process group to stop if we are interrupted
const stopGroup = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once("exit", r))
  try {
    process.kill(-child.pid, "SIGTERM")
  } catch {}
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {}
  await exited
}
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, async () => {
    if (running) await stopGroup(running)
    process.exit(130)
  })

async function coldRound(name, command) {
  const port = await freePort()
  const inspector = await freePort()
  const state = mkdtempSync(join(tmpdir(), `cold-${name}-`))
  const cmd = command.replaceAll("{port}", port).replaceAll("{inspector}", inspector).replaceAll("{state}", state)
  const env = {
    ...process.env,
    VSCODE_INSPECTOR_OPTIONS: "{}",
    WRANGLER_SEND_METRICS: "false",
    CI: "1",
    NO_COLOR: "1",
    WRANGLER_REGISTRY_PATH: join(state, "registry"),
  }
  let log = ""
  const spawned = performance.now()
  const child = spawn("bash", ["-c", cmd], { detached: true, env, stdio: ["ignore", "pipe", "pipe"] })
  running = child
  let ready = NaN // when wrangler prints "Ready on", for comparison with the port opening
  const onData = (d) => {
    log += d
    if (Number.isNaN(ready) && /Ready on/.test(log)) ready = performance.now() - spawned
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  try {
    while (!(await portOpen(port))) {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${log.slice(-500)}`)
      if (performance.now() - spawned > 120_000) throw new Error(`${name}: port ${port} not open after 120 s`)
      await sleep(10)
    }
    const open = performance.now() - spawned
    if (settle) await sleep(settle)
    const r = await firstRequests(`http://127.0.0.1:${port}`, name, bare)
    // The first request goes out as soon as the port opens (or --settle later) and waits
    // for whatever of the startup is not done yet.
    if (r.health1Status !== 200) throw new Error(`${name}: first /health answered ${r.health1Status}`)
    return { open, ready, first200: open + settle + r.health1, ...r }
  } finally {
    await stopGroup(child)
    running = null
    rmSync(state, { recursive: true, force: true })
  }
}

const allColumns = [
  ["open", "spawn→port open"],
  ["ready", "spawn→'Ready on'"],
  ["first200", "spawn→first 200"],
  ["health1", "1st /health"],
  ["health2", "2nd /health"],
  ["put1", "1st PUT"],
  ["post1", "1st POST"],
  ["put2", "2nd-object PUT"],
  ["post2", "2nd-object POST"],
]

async function main() {
  // Warm Node's own fetch (undici loads lazily) so the first round does not pay for it.
  const warm = createServer((s) => s.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"))
  await new Promise((r) => warm.listen(0, "127.0.0.1", r))
  await fetch(`http://127.0.0.1:${warm.address().port}/`).then((r) => r.arrayBuffer())
  warm.close()

  const rounds = Number(option("--rounds", 5))
  settle = Number(option("--settle", 0))
  compatDate = option("--compat-date", compatDate)
  if (args[0] === "--bare") {
    args.shift()
    bare = true
  }
  if (args.length === 1 && /^https?:/.test(args[0])) {
    const r = await firstRequests(args[0].replace(/\/$/, ""), "url")
    for (const [key, label] of allColumns) if (key in r) console.log(`${label}: ${fmt(r[key])} ms`)
    return
  }
  const targets = args.map((a) => {
    const i = a.indexOf("=")
    if (bare && a === "empty") return ["empty", bareCommand("empty", "")]
    if (i < 1) throw new Error(`expected NAME=COMMAND, got ${a}`)
    return bare ? [a.slice(0, i), bareCommand(a.slice(0, i), a.slice(i + 1))] : [a.slice(0, i), a.slice(i + 1)]
  })
  if (!targets.length) throw new Error("usage: see the first lines of cold-start.mjs")
  const results = Object.fromEntries(targets.map(([n]) => [n, []]))
  // Without wrangler there is no "Ready on" line, and without bindings no object.
  const columns = bare ? allColumns.filter(([k]) => ["open", "first200", "health1", "health2"].includes(k)) : allColumns
  console.log(`round name ${columns.map(([, l]) => l).join(" | ")} (ms)`)
  for (let round = 1; round <= rounds; round++) {
    // Alternate which target goes first, so neither always follows the other.
    const order = round % 2 ? targets : [...targets].reverse()
    for (const [name, command] of order) {
      const r = await coldRound(name, command)
      results[name].push(r)
      console.log(`${round} ${name} ${columns.map(([k]) => fmt(r[k])).join(" | ")}`)
    }
  }
  console.log(`\nmedians over ${rounds} rounds (ms)`)
  for (const [key, label] of columns) {
    const m = targets.map(([n]) => median(results[n].map((r) => r[key])))
    const ratio = targets.length === 2 ? `  ${targets[0][0]}/${targets[1][0]} ${(m[0] / m[1]).toFixed(2)}` : ""
    console.log(`${label}: ${targets.map(([n], i) => `${n} ${fmt(m[i])}`).join("  ")}${ratio}`)
  }
}

if (args[0] === "--compile") await compileMode()
else await main()
