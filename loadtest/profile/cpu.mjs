// CPU time per request of a worker under wrangler dev, read from /proc: the processes of
// wrangler's process group (wrangler itself in Node.js, the workerd of its proxy worker,
// and the workerd that runs the worker) are charged for N requests, sent from W
// concurrent clients after a warm-up. Unlike latency, CPU
// time barely depends on what else the machine is doing, so small differences show.
// usage: node cpu.mjs BASE_URL PGID health|append|read [N=2000] [W=4]
//        node cpu.mjs BASE_URL PGID crowd [APPENDS=50] [READERS=200]
// crowd: READERS long-poll readers follow the tail while a writer appends APPENDS times,
// 100 ms apart; the CPU is charged per response the readers get.
import { readdirSync, readFileSync } from "node:fs"

const [base, pgid, mode, nArg, wArg] = process.argv.slice(2)
const n = Number(nArg || 2000), writers = Number(wArg || 4)
const TICK_MS = 10 // USER_HZ is 100 on Linux

// wrangler runs two workerd processes: its proxy worker, which listens on the public
// port, and the runtime of the worker itself, the one with an inspector address.
function role(pid, stat) {
  const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
  if (comm !== "workerd") return comm === "node" ? "wrangler" : comm
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8")
  return cmdline.includes("--inspector-addr") ? "runtime" : "proxy"
}

function groupTicks() {
  const ticks = new Map()
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat
    try { stat = readFileSync(`/proc/${pid}/stat`, "utf8") } catch { continue }
    // Fields after the command name, which may hold spaces: state is field 3.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (f[2] !== pgid) continue
    ticks.set(`${role(pid, stat)}:${pid}`, Number(f[11]) + Number(f[12]))
  }
  return ticks
}

const stream = `${base}/v1/stream/cpu-${Date.now()}`
await fetch(stream, { method: "PUT", headers: { "content-type": "text/plain" } })
await fetch(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: "first" })
let request = {
  health: () => fetch(`${base}/health`),
  append: (i) => fetch(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: `x${i}` }),
  // A catch-up read that skips the cache lookup, so that every read reaches the object.
  read: () => fetch(`${stream}?offset=-1`, { headers: { "cache-control": "no-cache" } }),
}[mode]
if (mode === "crowd") {
  const readers = writers === 4 ? 200 : writers
  let responses = 0, stop = false, done
  const follow = async () => {
    let offset = "now", cursor = ""
    while (!stop) {
      const r = await fetch(`${stream}?offset=${offset}&live=long-poll${cursor ? `&cursor=${cursor}` : ""}`)
      await r.arrayBuffer()
      if (done) responses++
      offset = r.headers.get("stream-next-offset") ?? offset
      cursor = r.headers.get("stream-cursor") ?? cursor
    }
  }
  const tasks = Array.from({ length: readers }, follow)
  const appendAll = async (count) => {
    for (let i = 0; i < count; i++) {
      await (await request(i)).arrayBuffer()
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  request = (i) => fetch(stream, { method: "POST", headers: { "content-type": "text/plain" }, body: `c${i}` })
  await appendAll(10)
  const before = groupTicks()
  done = true
  const started = performance.now()
  await appendAll(n === 2000 ? 50 : n)
  const wall = performance.now() - started
  const after = groupTicks()
  done = false
  stop = true
  report(before, after, responses, wall)
  await Promise.race([Promise.all(tasks), new Promise((r) => setTimeout(r, 6000))])
  process.exit(0)
}
const run = async (count) => {
  let next = 0
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < count) await (await request(next++)).arrayBuffer()
  }))
}
await run(200)
const before = groupTicks()
const started = performance.now()
await run(n)
const wall = performance.now() - started
const after = groupTicks()
report(before, after, n, wall)

function report(before, after, count, wall) {
  let total = 0
  const byRole = new Map()
  for (const [k, t] of after) {
    const used = (t - (before.get(k) ?? t)) * TICK_MS
    total += used
    const r = k.split(":")[0]
    byRole.set(r, (byRole.get(r) ?? 0) + used)
  }
  const parts = ["runtime", "proxy", "wrangler"].map((r) => `${r} ${((byRole.get(r) ?? 0) / count).toFixed(3)}`)
  console.log(`${mode}: ${(total / count).toFixed(3)} CPU ms per request (${parts.join(", ")}); ${Math.round(count / (wall / 1000))}/s`)
}
