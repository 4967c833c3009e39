// A long-poll parked at the tail, then an append: the p50 over N rounds (after 10 to warm
// up) of the time from the append's send to the long-poll's answer and to the append's
// own answer, and of a catch-up read at the tail before each round.
// usage: node wake.mjs BASE_URL [N=100]
const [base, nArg] = process.argv.slice(2); const n = +(nArg || 100)
const url = `${base}/v1/stream/wake-${Date.now()}`
const put = await fetch(url, { method: "PUT", headers: { "content-type": "application/octet-stream" } })
let off = put.headers.get("stream-next-offset"), cursor = ""
const lp = [], post = [], cu = []
for (let i = 0; i < n + 10; i++) {
  const t0 = performance.now(); const c = await fetch(`${url}?offset=${off}`); await c.arrayBuffer(); const tc = performance.now() - t0
  const waiting = fetch(`${url}?offset=${off}&live=long-poll${cursor ? "&cursor=" + cursor : ""}`).then(async (r) => { await r.arrayBuffer(); return [performance.now(), r] })
  await new Promise((r) => setTimeout(r, 30))
  const t = performance.now()
  const p = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(100) }); await p.arrayBuffer()
  const tp = performance.now() - t
  const [tl, r] = await waiting
  off = r.headers.get("stream-next-offset"); cursor = r.headers.get("stream-cursor") || ""
  if (i >= 10) { lp.push(tl - t); post.push(tp); cu.push(tc) }
}
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1].toFixed(2)
console.log(`append→long-poll answer p50 ${med(lp)}  append p50 ${med(post)}  catch-up at tail p50 ${med(cu)}`)
