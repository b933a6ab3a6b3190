// @ts-nocheck
import * as path from "node:path"
import type { ViteUserConfig } from "vitest/config"

const root = import.meta.dirname

const alias = (name: string) => ({
  [`@access-token/${name}`]: path.join(root, "packages", name, "src")
})

/**
 * Settings every test project shares: workspace packages resolve to their sources, so tests
 * never run against a stale build.
 */
export const shared: ViteUserConfig = {
  esbuild: { target: "es2022" },
  resolve: {
    alias: {
      ...alias("core"),
      ...alias("platform"),
      ...alias("platform-node"),
      ...alias("redis"),
      ...alias("testing")
    }
  },
  test: {
    include: ["test/**/*.test.ts"],
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: false }
  }
}
