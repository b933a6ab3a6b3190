import * as fs from "node:fs"
import { defineConfig, mergeConfig } from "vitest/config"
import { BaseSequencer, type TestSpecification } from "vitest/node"
import { shared } from "./vitest.shared.js"

/**
 * Runs the quickest test files first. Stryker stops a mutant's run at its first failing test, and
 * most mutants are killed by a unit test in a small file; vitest's own order (slowest first, to
 * finish a full run sooner) would make every mutant wait for the wall-clock suites first.
 */
class QuickestFirst extends BaseSequencer {
  override async sort(files: Array<TestSpecification>): Promise<Array<TestSpecification>> {
    const cost = (file: TestSpecification): number => {
      const key = `${file.project.name}:${file.moduleId.slice(this.ctx.config.root.length + 1)}`
      return this.ctx.cache.getFileTestResults(key)?.duration ?? fs.statSync(file.moduleId).size
    }
    return [...files].sort((a, b) => cost(a) - cost(b))
  }
}

const project = mergeConfig(shared, { test: { name: "mutation" } })
// mergeConfig concatenates arrays: the shared `test/**` pattern would take in every package.
project.test.include = ["packages/core/test/**/*.test.ts", "packages/platform/test/**/*.test.ts"]

/**
 * The tests mutation testing runs (`stryker.config.mjs`): those of the core and the platform
 * middleware, the packages it mutates. The Node, Redis and testing packages' suites reach them only
 * through real servers, slowly, and pin little that these two do not.
 *
 * Both packages' tests form one project, and share one module graph (`isolate: false`): vitest
 * starts a fresh worker for each project a run touches and, isolated, for each file, and each start
 * imports Effect again, which was most of the time of a mutant's run. Stryker switches mutants on
 * at run time, so the sources need no fresh import. The suites pass this way too (Stryker starts
 * with an unmutated run and stops if a test fails).
 */
export default defineConfig({
  test: {
    projects: [project],
    isolate: false,
    poolOptions: { threads: { isolate: false } },
    sequence: { sequencer: QuickestFirst }
  }
})
