// The README's pub/sub walk-through, run as written against local workers with auth off
// (as scripts/dev.sh runs them): every command must do what its comment says.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, expect, test } from "vitest"
import { freshState, startWorker, type LocalWorker } from "./worker"

let core: LocalWorker
let sub: LocalWorker

beforeAll(async () => {
  const shared = { WRANGLER_REGISTRY_PATH: mkdtempSync(join(tmpdir(), "wrangler-registry-")) }
  // A short SSE session, so the walk-through's `curl -N` ends by itself.
  core = await startWorker(freshState(), { SSE_SESSION_MS: "1500" }, "tests/restart/wrangler.toml", shared)
  sub = await startWorker(freshState(), {}, "tests/subscription/subscription-open.toml", shared)
}, 120_000)

afterAll(async () => {
  await Promise.all([sub?.stop(), core?.stop()])
})

/** The bash block after the walk-through marker in README.md. */
function walkthrough(): string {
  const readme = readFileSync("README.md", "utf8")
  const after = readme.split("tests/integration/subscription-walkthrough.test.ts")[1] ?? ""
  const block = /```bash\n([\s\S]*?)```/.exec(after)?.[1]
  if (!block) throw new Error("README.md has no walk-through block")
  return block
}

/** Every balanced top-level `{…}` in `text` that parses as JSON. */
function objects(text: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = []
  let depth = 0
  let start = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === "\\") i++
      else if (c === '"') inString = false
    } else if (c === '"' && depth > 0) inString = true
    else if (c === "{" && depth++ === 0) start = i
    else if (c === "}" && depth > 0 && --depth === 0) {
      try {
        found.push(JSON.parse(text.slice(start, i + 1)))
      } catch {
        // Not JSON after all.
      }
    }
  }
  return found
}

test("the README's walk-through works as written", () => {
  const output = execFileSync("bash", ["-euo", "pipefail", "-c", walkthrough()], {
    env: { ...process.env, CORE: core.url, SUB: sub.url },
    encoding: "utf8",
    // curl's progress meter goes to stderr.
    stdio: ["ignore", "pipe", "ignore"],
    timeout: 60_000,
  })
  // curl prints bodies without a newline, so answers run together: take every top-level
  // JSON object that names the session.
  const json = objects(output).filter((o) => o.sessionId === "user-alice")
  expect(json[0]).toMatchObject({ sessionId: "user-alice", streamId: "chat-room-1", sessionStreamPath: "/v1/stream/session:user-alice", isNewSession: true })
  // The SSE read carries the published message (bytes, base64).
  expect(output).toContain(`data:${Buffer.from('{"text":"hello world"}').toString("base64")}`)
  expect(json.find((j) => "subscriptions" in j)).toMatchObject({ sessionId: "user-alice", subscriptions: [{ streamId: "chat-room-1" }] })
  expect(json.find((j) => "expiresAt" in j && !("subscriptions" in j) && !("streamId" in j))).toMatchObject({ sessionId: "user-alice" })
  expect(json.at(-1)).toEqual({ sessionId: "user-alice", streamId: "chat-room-1", unsubscribed: true })
}, 90_000)
