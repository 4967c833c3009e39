// Starting and stopping a local worker from a test, on a free port and given state, for
// tests that restart it or tamper with its storage while it is down.
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The default configuration: the built worker with small segments and no auth. */
export const CONFIG = "tests/restart/wrangler.toml"
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" }

/** Ports handed out by this process: the OS may offer a just-closed one again. */
const given = new Set<number>()

/** A port nothing listens on, never handed out twice by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort()
    if (!given.has(port)) {
      given.add(port)
      return port
    }
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const address = s.address()
      s.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })
}

export function freshState(): string {
  return mkdtempSync(join(tmpdir(), "streams-state-"))
}

export interface LocalWorker {
  url: string
  /** Shuts the worker down cleanly (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>
  /**
   * Crashes the worker: SIGKILL to its whole process group (npx, wrangler and the workerd
   * processes it spawned), with no chance to finish writes or close connections.
   */
  kill(): Promise<void>
}

/**
 * Starts the built worker on `state` and waits until it answers. `vars` override the
 * worker's variables (`--var NAME:value`); `config` is the wrangler configuration;
 * `extraEnv` is added to wrangler's environment (for example a shared
 * `WRANGLER_REGISTRY_PATH`, so workers started apart reach each other's bindings).
 */
export async function startWorker(
  state: string,
  vars: Record<string, string> = {},
  config = CONFIG,
  extraEnv: Record<string, string> = {},
): Promise<LocalWorker> {
  const [port, inspector] = [await freePort(), await freePort()]
  const overrides = Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])
  // wrangler's output, for the error when it does not start.
  const logPath = join(mkdtempSync(join(tmpdir(), "wrangler-log-")), "wrangler.log")
  const log = openSync(logPath, "w")
  const child: ChildProcess = spawn(
    "npx",
    [
      "wrangler", "dev", "-c", config, "--ip", "127.0.0.1", "--port", `${port}`, "--inspector-port", `${inspector}`,
      "--persist-to", state, ...overrides,
    ],
    { detached: true, stdio: ["ignore", log, log], env: { ...env, ...extraEnv } },
  )
  closeSync(log)
  const url = `http://127.0.0.1:${port}`
  const exited = () => child.exitCode !== null || child.signalCode !== null
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig)
    } catch {
      // Already gone.
    }
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited()) return resolve()
      const force = setTimeout(() => signal("SIGKILL"), 5_000)
      child.once("exit", () => {
        clearTimeout(force)
        resolve()
      })
      signal("SIGTERM")
    })
  // The group is the detached child's own, so this reaches workerd too and nothing else.
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0)
      return true
    } catch {
      return false
    }
  }
  const kill = async () => {
    signal("SIGKILL")
    for (let i = 0; i < 100 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 50))
  }
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, stop, kill }
    } catch {
      // Not listening yet.
    }
    if (exited()) break
    await new Promise((r) => setTimeout(r, 200))
  }
  await stop()
  const output = readFileSync(logPath, "utf8").split("\n").slice(-30).join("\n")
  throw new Error(`the worker did not start (${config}); wrangler said:\n${output}`)
}

/** Runs `wrangler kv key put` against the local namespace `binding` of a stopped worker's state. */
export function kvPut(state: string, config: string, binding: string, key: string, value: string): void {
  execFileSync("npx", ["wrangler", "kv", "key", "put", key, value, "--binding", binding, "--local", "--persist-to", state, "-c", config], {
    env,
    stdio: "ignore",
  })
}

/** Runs `wrangler r2 object …` against the local bucket of a stopped worker's state. */
export function r2Object(state: string, args: string[]): void {
  execFileSync("npx", ["wrangler", "r2", "object", ...args, "--local", "--persist-to", state, "-c", CONFIG], {
    env,
    stdio: "ignore",
  })
}

/**
 * Starts several workers at once. If one does not start, the others are stopped before
 * the error is thrown, so a failed setup leaves no worker running.
 */
export async function startWorkers(starts: Array<Promise<LocalWorker>>): Promise<LocalWorker[]> {
  const settled = await Promise.allSettled(starts)
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected")
  const started = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
  if (failed) {
    await Promise.all(started.map((w) => w.stop()))
    throw failed.reason
  }
  return started
}
