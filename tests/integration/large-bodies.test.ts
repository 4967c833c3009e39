// Bodies larger than a SQLite row, a 10 MiB append, and a body over the limit.
import { describe, expect, test } from "vitest"
import { append, create, expectError, readAll, readJson, streamPath, tailOf, url } from "./helpers"

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) % 251
  return out
}

describe("large bodies", () => {
  test("a 10 MiB binary append is stored whole and reads back byte for byte across pages", async () => {
    const path = streamPath("ten-mib")
    await create(path, "application/octet-stream")
    const body = pattern(10 * 1024 * 1024, 7)
    const res = await append(path, body, "application/octet-stream")
    expect(res.status).toBe(204)
    const all = await readAll(path)
    expect(all.pages).toBeGreaterThan(1)
    expect(all.bytes.length).toBe(body.length)
    expect(Buffer.compare(Buffer.from(all.bytes), Buffer.from(body))).toBe(0)
  })

  test("a JSON message larger than the read chunk is returned whole", async () => {
    const path = streamPath("big-json")
    await create(path, "application/json", "[]")
    const big = "x".repeat(1_500_000)
    expect((await append(path, JSON.stringify([{ i: 0 }, { big }, { i: 2 }]), "application/json")).status).toBe(204)
    const first = await fetch(url(`${path}?offset=-1`))
    const values = (await first.json()) as unknown[]
    expect(values.length).toBeGreaterThanOrEqual(1)
    expect(await readJson(path)).toEqual([{ i: 0 }, { big }, { i: 2 }])
  })

  test("a body over the limit gets a clean 413 and changes nothing", async () => {
    const path = streamPath("too-big")
    await create(path, "application/octet-stream", "a")
    const before = await tailOf(path)
    const res = await append(path, pattern(17 * 1024 * 1024, 1), "application/octet-stream")
    await expectError(res, 413, "PAYLOAD_TOO_LARGE")
    expect(await tailOf(path)).toBe(before)
  })
})
