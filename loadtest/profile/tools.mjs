// What the profiling scripts share: a free local port, and a DevTools protocol client.
import { createServer } from "node:net"

export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on("error", reject)
  })

// Connects to an inspector (wrangler's proxy wants an Origin, and renumbers ids, so answers
// are matched in order) and returns the socket and `call(method, params)`, which resolves
// with the answer. `onEvent` sees every message the inspector sends.
export const inspect = async (url, onEvent = () => {}) => {
  const ws = new WebSocket(url, { headers: { Origin: "http://localhost" } })
  const waiting = []
  ws.onmessage = (m) => {
    const message = JSON.parse(m.data)
    onEvent(message)
    if (message.id !== undefined && waiting.length) waiting.shift()(message)
  }
  await new Promise((resolve) => (ws.onopen = resolve))
  let id = 0
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      waiting.push(resolve)
      ws.send(JSON.stringify({ id: ++id, method, params }))
    })
  return { ws, call }
}
