// Prints the per-file mutation scores of one or more Stryker JSON reports as the markdown table of
// MUTATION.md: `node scripts/mutation-table.mjs reports/mutation/mutation.json [more.json ...]`.
// A file in several reports counts from the last one given (a later run of that file replaces an
// earlier one), so runs of parts of the tree add up to the whole.
//
// The score is Stryker's: mutants detected (killed, or timed out) over mutants that count (those,
// plus survivors and mutants no test reaches). Mutants that do not compile or are disabled in the
// code with a reason (`// Stryker disable ...`) do not count.
import { readFileSync } from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const files = new Map()
for (const report of process.argv.slice(2)) {
  const json = JSON.parse(readFileSync(report, "utf8"))
  for (const [name, file] of Object.entries(json.files)) {
    const relative = path.isAbsolute(name) ? path.relative(root, name) : name
    // A sandbox path (…/.stryker-tmp*/sandbox-*/packages/…) names the file it was copied from.
    files.set(relative.replace(/^.*?sandbox-[^/]+\//, ""), file.mutants)
  }
}
if (files.size === 0) {
  console.error("usage: node scripts/mutation-table.mjs <stryker json report>...")
  process.exit(1)
}

const count = (mutants) => {
  const by = (status) => mutants.filter((mutant) => mutant.status === status).length
  const killed = by("Killed")
  const timeout = by("Timeout")
  const survived = by("Survived")
  const noCoverage = by("NoCoverage")
  // Disabled in the code with a reason, or static and left out of a run with `--ignoreStatic`.
  const ignored = mutants.filter((mutant) => mutant.status === "Ignored")
  const staticNotRun = ignored.filter((mutant) => /^Static mutant/.test(mutant.statusReason ?? "")).length
  const disabled = ignored.length - staticNotRun
  const valid = killed + timeout + survived + noCoverage
  return {
    killed,
    timeout,
    survived,
    noCoverage,
    disabled,
    staticNotRun,
    valid,
    score: valid === 0 ? 100 : (100 * (killed + timeout)) / valid
  }
}

const row = (name, c) =>
  `| ${name} | ${
    c.score.toFixed(1)
  } % | ${c.valid} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${c.disabled} | ${c.staticNotRun} |`

const groups = [
  ["`packages/core/src/internal`", "packages/core/src/internal/"],
  ["`packages/platform/src`", "packages/platform/src/"],
  ["`packages/core/src` (public modules)", /^packages\/core\/src\/[^/]+$/]
]
const lines = [
  "| file | score | mutants | killed | timeout | survived | no coverage | disabled | static, not run |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
]
for (const [title, prefix] of groups) {
  const members = [...files.keys()].filter((name) =>
    typeof prefix === "string" ? name.startsWith(prefix) : prefix.test(name)
  ).sort()
  if (members.length === 0) continue
  lines.push(row(`**${title}**`, count(members.flatMap((name) => files.get(name)))))
  for (const name of members) {
    const c = count(files.get(name))
    const flag = c.score < 75 ? " ⚠ below 75 %" : ""
    lines.push(row(`\`${name.replace(/^packages\/[^/]+\/src\//, "")}\`${flag}`, c))
  }
}
console.log(lines.join("\n"))
