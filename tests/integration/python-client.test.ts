// The official Python client (durable-streams on PyPI) against the worker, through
// tests/clients/python/check_client.py in the virtualenv scripts/setup.sh makes: each mode
// writes with the client and checks its readers get back exactly that.
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, test } from "vitest"
import { BASE } from "./helpers"

const dir = fileURLToPath(new URL("../clients/python/", import.meta.url))
const python = `${dir}.venv/bin/python`
const script = `${dir}check_client.py`

function runCheck(mode: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(python, [script, BASE, mode], { timeout: 25_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

describe("Python client", { timeout: 30_000 }, () => {
  test("its virtualenv is installed", () => {
    expect(existsSync(python), `${python} is missing: run scripts/setup.sh`).toBe(true)
  })

  for (const mode of ["catch-up", "long-poll", "sse", "binary"]) {
    test(`${mode}: reads back exactly what it wrote`, async () => {
      const { code, stdout, stderr } = await runCheck(mode)
      // On a failure the script's own message says what differed.
      expect(code, `check_client.py ${mode} exited ${code}: ${stderr}`).toBe(0)
      expect(stdout).toMatch(new RegExp(`^ok ${mode}: `))
    })
  }
})
