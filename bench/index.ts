/**
 * The benchmark suite: `npm run bench` runs every scenario in order and prints one markdown table
 * per scenario; `npm run bench -- herd peers` runs only those. See README.md for how to read them.
 */
import { Effect } from "effect"
import * as Os from "node:os"
import * as clientAuthentication from "./clientAuthentication.js"
import * as coldTenants from "./coldTenants.js"
import * as dpop from "./dpop.js"
import * as herd from "./herd.js"
import * as hotPath from "./hotPath.js"
import * as memory from "./memory.js"
import * as overhead from "./overhead.js"
import * as peers from "./peers.js"
import * as rollover from "./rollover.js"
import * as tenants from "./tenants.js"

const scenarios = {
  overhead,
  hotPath,
  herd,
  rollover,
  peers,
  memory,
  clientAuthentication,
  dpop,
  tenants,
  coldTenants
} as const

type Name = keyof typeof scenarios

const names = Object.keys(scenarios) as Array<Name>
const requested = process.argv.slice(2).filter((arg) => arg !== "--")
const unknown = requested.filter((name) => !(name in scenarios))
if (unknown.length > 0) {
  console.error(`Unknown scenario ${unknown.join(", ")}; known: ${names.join(", ")}`)
  process.exit(2)
}
const selected = requested.length === 0 ? names : names.filter((name) => requested.includes(name))

const program = Effect.gen(function*() {
  const startedAt = performance.now()
  console.log(
    `access-token benchmarks, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${Os.availableParallelism()} cores (${Os.cpus()[0]?.model ?? "unknown CPU"})\n`
  )
  for (const name of selected) {
    const began = performance.now()
    const markdown = yield* scenarios[name].run.pipe(
      // Whatever hangs (a request never answered, a server that never starts), the run ends.
      Effect.timeoutFail({ duration: "5 minutes", onTimeout: () => new Error(`scenario ${name} took over 5 minutes`) })
    )
    console.log(`${markdown}\n\n_${name}: ${((performance.now() - began) / 1000).toFixed(1)} s_\n`)
  }
  console.log(`Total: ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
})

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
