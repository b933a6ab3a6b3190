/**
 * The hot path of this checkout beside another's, in one process: `getToken` on a cached token,
 * 10⁶ calls per sample, each pair run back to back in alternating order, CPU time (user + system)
 * rather than wall time, so that a shared machine's other work does not count.
 *
 *   npx tsx --tsconfig bench/tsconfig.json bench/compareHotPath.ts /path/to/other/checkout [pairs]
 *
 * The other checkout (a `git worktree` of an older commit, say) needs no install: its sources are
 * loaded with this checkout's `effect`. The A/A mode (`-` as the path) compares this checkout with
 * itself, to show the noise of the method.
 */
import * as Current from "@access-token/core"
import { Context, DateTime, Effect, Layer } from "effect"
import * as Path from "node:path"
import { offlineClient } from "./lib/fixtures.js"

type Core = typeof Current

const [other = "-", pairsArg = "21"] = process.argv.slice(2).filter((arg) => arg !== "--")
const pairs = Number(pairsArg)
const calls = 1_000_000

const service = (core: Core) =>
  Layer.build(
    core.TokenService.layer({ clients: { api: offlineClient } }).pipe(
      Layer.provide([
        core.TokenEndpointClient.layerTest(() =>
          Effect.map(DateTime.now, (receivedAt) =>
            core.AccessToken.make({ value: "hot", receivedAt, expiresIn: "1 hour" }))
        ),
        core.TokenCache.layerMemory()
      ])
    )
  ).pipe(Effect.orDie, Effect.map(Context.get(core.TokenService.TokenService)))

/** CPU nanoseconds per call. */
const cpu = (call: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const started = process.cpuUsage()
    for (let i = 0; i < calls; i++) yield* call
    const used = process.cpuUsage(started)
    return ((used.user + used.system) * 1000) / calls
  })

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const program = Effect.gen(function*() {
  const baseline = other === "-"
    ? Current
    : (yield* Effect.promise(() => import(Path.resolve(other, "packages/core/src/index.ts")))) as Core
  const before = yield* service(baseline)
  const after = yield* service(Current)
  for (const tokens of [before, after]) {
    yield* tokens.getToken("api")
    yield* tokens.getToken("api", { scope: "api.read" })
  }
  const calls: ReadonlyArray<readonly [string, (tokens: typeof after) => Effect.Effect<unknown, unknown>]> = [
    ["`getToken()` (the only client)", (tokens) => tokens.getToken()],
    ["`getToken(\"api\")`", (tokens) => tokens.getToken("api")],
    ["`getToken(\"api\", { scope: \"api.read\" })`", (tokens) => tokens.getToken("api", { scope: "api.read" })]
  ]
  console.log(`| call | other ns/call | this ns/call | this / other, median (min–max) of ${pairs} pairs |`)
  console.log("| --- | ---: | ---: | ---: |")
  for (const [label, call] of calls) {
    const others: Array<number> = []
    const ours: Array<number> = []
    const ratios: Array<number> = []
    for (let i = 0; i < pairs; i++) {
      const [a, b] = i % 2 === 0
        ? yield* Effect.all([cpu(call(before)), cpu(call(after))])
        : yield* Effect.map(Effect.all([cpu(call(after)), cpu(call(before))]), ([b, a]) => [a, b] as const)
      others.push(a)
      ours.push(b)
      ratios.push(b / a)
    }
    console.log(
      `| ${label} | ${median(others).toFixed(0)} | ${median(ours).toFixed(0)} | ${median(ratios).toFixed(2)} (${
        Math.min(...ratios).toFixed(2)
      }–${Math.max(...ratios).toFixed(2)}) |`
    )
  }
})

Effect.runPromise(Effect.scoped(program)).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
