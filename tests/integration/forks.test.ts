// Forks beyond the conformance suite: paged reads across the fork point, records found
// through the fork chain, and JSON boundaries checked through the chain.
import { describe, expect, test } from "vitest"
import { append, create, expectError, readAll, readJson, streamPath, text, url } from "./helpers"

const MiB = 1024 * 1024

function filled(n: number, byte: number): Uint8Array {
  return new Uint8Array(n).fill(byte)
}

describe("forks", () => {
  test("paged reads stitch inherited and own bytes exactly", async () => {
    const source = streamPath("stitch-src")
    const fork = streamPath("stitch-fork")
    await create(source, "application/octet-stream", filled(MiB, 1))
    await append(source, filled(MiB / 2, 2), "application/octet-stream")
    await create(fork, "application/octet-stream", filled(MiB, 3), { "Stream-Forked-From": source })
    await append(source, filled(100, 9), "application/octet-stream")
    const all = await readAll(fork)
    expect(all.pages).toBeGreaterThan(2)
    expect(all.bytes.length).toBe(MiB + MiB / 2 + MiB)
    const expected = new Uint8Array([...filled(MiB, 1), ...filled(MiB / 2, 2), ...filled(MiB, 3)])
    expect(Buffer.compare(Buffer.from(all.bytes), Buffer.from(expected))).toBe(0)
  })

  test("a sub-offset fork finds its record through the fork chain", async () => {
    const source = streamPath("chain-src")
    const middle = streamPath("chain-mid")
    const leaf = streamPath("chain-leaf")
    await create(source, "text/plain", "abc")
    const afterAbc = (await append(source, "def")).headers.get("stream-next-offset")
    expect(afterAbc).toBeTruthy()
    await create(middle, "text/plain", undefined, { "Stream-Forked-From": source })
    await create(leaf, "text/plain", undefined, {
      "Stream-Forked-From": middle,
      "Stream-Fork-Offset": "0000000000000000_0000000000000003",
      "Stream-Fork-Sub-Offset": "2",
    })
    expect(text((await readAll(leaf)).bytes)).toBe("abcde")
    await append(leaf, "!")
    expect(text((await readAll(leaf)).bytes)).toBe("abcde!")
    expect(text((await readAll(middle)).bytes)).toBe("abcdef")
  })

  test("a JSON fork offset inside an inherited message is rejected without counting a fork", async () => {
    const source = streamPath("json-src")
    const middle = streamPath("json-mid")
    await create(source, "application/json", '[{"a":1},{"b":2}]')
    await create(middle, "application/json", undefined, { "Stream-Forked-From": source })
    const bad = await fetch(url(streamPath("json-leaf")), {
      method: "PUT",
      headers: { "Stream-Forked-From": middle, "Stream-Fork-Offset": "0000000000000000_0000000000000003" },
    })
    await expectError(bad, 400, "INVALID_OFFSET")
    // The rejected fork holds no reference: deleting the middle removes it at once.
    expect((await fetch(url(middle), { method: "DELETE" })).status).toBe(204)
    expect((await fetch(url(middle), { method: "HEAD" })).status).toBe(404)
    expect(await readJson(source)).toEqual([{ a: 1 }, { b: 2 }])
  })

  test("long-poll on a fork in the inherited range answers at once, across the boundary", async () => {
    const source = streamPath("lp-src")
    const fork = streamPath("lp-fork")
    await create(source, "application/json", '[{"s":1}]')
    await create(fork, "application/json", '[{"f":1}]', { "Stream-Forked-From": source })
    const res = await fetch(url(`${fork}?offset=-1&live=long-poll`))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual([{ s: 1 }, { f: 1 }])
    expect(res.headers.get("stream-cursor")).toMatch(/^\d+$/)
  })
})
