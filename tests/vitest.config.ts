import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // The conformance suite relies on vitest's default 5 s test timeout and sets
    // longer ones itself where it needs them.
    fileParallelism: false,
    reporters: ["default"],
  },
})
