// Mutation testing (https://stryker-mutator.io): `npm run mutation` mutates the core's machinery and
// the platform middleware and runs the core and platform tests against every mutant. A surviving
// mutant is a change to the code that no test notices. Scores per file: MUTATION.md.
//
// `npm run mutation -- --mutate packages/core/src/internal/form.ts` runs one file (or a glob).

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  // Each mutant runs only the tests that reached its code in the first, instrumented run.
  coverageAnalysis: "perTest",
  mutate: [
    "packages/core/src/**/*.ts",
    "packages/platform/src/**/*.ts",
    "!packages/*/src/index.ts"
  ],
  ignorePatterns: ["**/docs/**", "bench", "reports", ".stryker-tmp*", "**/dist/**", "**/build/**"],
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  // Below 75 % (the least any file may score) a run fails.
  thresholds: { high: 85, low: 75, break: 75 },
  concurrency: 2,
  // A mutant that makes a test hang (a loop that no longer ends, a Deferred never completed) is
  // stopped after this much more than the test took unmutated.
  timeoutMS: 10_000,
  timeoutFactor: 2,
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always"
}
