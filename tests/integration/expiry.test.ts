// Expiry that nobody observes still cleans up: a fork's alarm releases its source.
import { describe, expect, test } from "vitest"
import { create, sleep, streamPath, url } from "./helpers"

describe("expiry", () => {
  test("an untouched fork expiring releases a deleted source, which is then purged", async () => {
    const source = streamPath("alarm-src")
    const fork = streamPath("alarm-fork")
    await create(source, "text/plain", "data")
    await create(fork, "text/plain", undefined, { "Stream-Forked-From": source, "Stream-TTL": "1" })
    expect((await fetch(url(source), { method: "DELETE" })).status).toBe(204)
    expect((await fetch(url(source), { method: "HEAD" })).status).toBe(410)
    // Never touch the fork: only its expiry alarm can release the source.
    let status = 410
    const deadline = Date.now() + 8000
    while (status === 410 && Date.now() < deadline) {
      await sleep(250)
      status = (await fetch(url(source), { method: "HEAD" })).status
    }
    expect(status).toBe(404)
  }, 12_000)

  test("a stream is gone exactly when its TTL runs out, and can be created again", async () => {
    const path = streamPath("ttl")
    await create(path, "text/plain", "old", { "Stream-TTL": "1" })
    await sleep(1100)
    expect((await fetch(url(path), { method: "HEAD" })).status).toBe(404)
    await create(path, "application/json", '["new"]')
    expect(await (await fetch(url(path))).json()).toEqual(["new"])
  })
})
