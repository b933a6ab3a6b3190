// @ts-nocheck
import { defineWorkspace } from "vitest/config"

/** The test projects: one per workspace package that has tests. */
export default defineWorkspace([
  "packages/*/vitest.config.ts",
  "examples/vitest.config.ts"
])
