// The upstream Durable Streams server conformance suite, run against a local worker.
// tests/run.sh starts the worker and sets STREAMS_BASE_URL.
import { runConformanceTests } from "@durable-streams/server-conformance-tests"

const baseUrl = process.env.STREAMS_BASE_URL
if (!baseUrl) throw new Error("STREAMS_BASE_URL is not set; run the tests through scripts/test.sh")

runConformanceTests({
  baseUrl,
  longPollTimeoutMs: Number(process.env.LONG_POLL_TIMEOUT_MS ?? 1000),
  // The reserved __ds subscription APIs (§6–7), webhooks and pull-wake.
  subscriptions: true,
})
