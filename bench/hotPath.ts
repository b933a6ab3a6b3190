/**
 * Scenario 2, the hot path: nanoseconds per `TokenService.getToken` on a cached token, in one
 * fiber, next to the same loop doing `Ref.get` + `Clock.currentTimeMillis` (the floor: a lookup
 * and a clock read, which is all a cache hit should be), for a registered client and for a tenant
 * found by `resolveClient`, whose definition is held.
 */
import { Clock, Effect, Logger, Ref } from "effect"
import { PerformanceObserver } from "node:perf_hooks"
import { countingTracer, fixedTokenService, offlineClient, tokenValue } from "./lib/fixtures.js"
import { interleave, ratios } from "./lib/interleave.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const calls = 1_000_000
const targetNanos = 1000
const targetRatio = 3
/** A resolved tenant's hit against a registered client's. */
const targetResolvedRatio = 1.5

type Key = "loop" | "floor" | "default" | "named" | "scoped" | "resolved" | "resolvedScoped"

/** Each resolved row, and the registered row it is compared with. */
const registeredOf: Partial<Record<Key, Key>> = { resolved: "named", resolvedScoped: "scoped" }

const labels: Record<Key, string> = {
  loop: "the loop alone (`Effect.void`)",
  floor: "floor: `Ref.get` + `Clock.currentTimeMillis`",
  default: "`getToken()` (the only client)",
  named: "`getToken(\"api\")`",
  scoped: "`getToken(\"api\", { scope: \"api.read\" })`",
  resolved: "`getToken(\"acme\")`, a resolved tenant",
  resolvedScoped: "`getToken(\"acme\", { scope: \"api.read\" })`, a resolved tenant"
}

interface Sample {
  readonly nanos: number
  /** Young-generation collections during the loop: a proxy for what each call allocates. */
  readonly scavenges: number
}

let scavenges = 0
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as { detail?: { kind?: number } }).detail?.kind === 1) scavenges++
  }
})

/** Lets queued performance entries reach the observer (they are delivered on a timer). */
const flushEntries = Effect.sleep("20 millis")

const timed = (call: Effect.Effect<unknown, unknown>): Effect.Effect<Sample, unknown> =>
  Effect.gen(function*() {
    yield* flushEntries
    const before = scavenges
    const startedAt = performance.now()
    for (let i = 0; i < calls; i++) yield* call
    const nanos = ((performance.now() - startedAt) * 1e6) / calls
    yield* flushEntries
    return { nanos, scavenges: scavenges - before }
  })

export const run = Effect.gen(function*() {
  const value = tokenValue("hot-path")
  const tokens = yield* fixedTokenService({
    clients: { api: offlineClient },
    resolveClient: (tenant) => Effect.succeed({ ...offlineClient, clientId: tenant })
  }, () => value)
  // Fill the slots the loops read: each client's own and the one for another scope.
  for (const client of ["api", "acme"]) {
    yield* tokens.getToken(client)
    yield* tokens.getToken(client, { scope: "api.read" })
  }
  const ref = yield* Ref.make(0)

  const byKey: Record<Key, Effect.Effect<unknown, unknown>> = {
    loop: Effect.void,
    floor: Effect.zipRight(Ref.get(ref), Clock.currentTimeMillis),
    default: tokens.getToken(),
    named: tokens.getToken("api"),
    scoped: tokens.getToken("api", { scope: "api.read" }),
    resolved: tokens.getToken("acme"),
    resolvedScoped: tokens.getToken("acme", { scope: "api.read" })
  }
  const keys = Object.keys(labels) as Array<Key>

  // Spans and log lines on a cache hit, counted on one loop of each call.
  const { spans, tracer } = yield* countingTracer
  let logs = 0
  const countLogs = Logger.make(() => {
    logs++
  })
  const spansPerCall = {} as Record<Key, number>
  const logsPerCall = {} as Record<Key, number>
  for (const key of keys) {
    const spansBefore = spans()
    const logsBefore = logs
    yield* Effect.replicateEffect(byKey[key], 10_000, { discard: true }).pipe(
      Effect.withTracer(tracer),
      Effect.provide(Logger.replace(Logger.defaultLogger, countLogs))
    )
    spansPerCall[key] = (spans() - spansBefore) / 10_000
    logsPerCall[key] = (logs - logsBefore) / 10_000
  }

  observer.observe({ entryTypes: ["gc"] })
  const results = yield* interleave(keys.map((key) => ({ key, run: timed(byKey[key]) }))).pipe(
    Effect.ensuring(Effect.sync(() => observer.disconnect()))
  )

  const floorNanos = results.floor.map((sample) => sample.nanos)
  let met = true
  let resolvedMet = true
  const rows = keys.map((key) => {
    const nanos = results[key].map((sample) => sample.nanos)
    const toFloor = ratios(nanos, floorNanos)
    const isGetToken = key !== "loop" && key !== "floor"
    const registered = registeredOf[key]
    const toRegistered = registered === undefined
      ? undefined
      : ratios(nanos, results[registered].map((sample) => sample.nanos))
    const resolvedOk = toRegistered === undefined || median(toRegistered) <= targetResolvedRatio
    resolvedMet &&= resolvedOk
    const ok = median(nanos) < targetNanos && median(toFloor) <= targetRatio && resolvedOk
    if (isGetToken) met &&= ok
    return [
      labels[key],
      spread(nanos),
      spread(toFloor, 2),
      toRegistered === undefined ? "" : spread(toRegistered, 2),
      isGetToken ? verdict(ok) : "",
      spread(results[key].map((sample) => sample.scavenges)),
      fmt(spansPerCall[key], 0),
      fmt(logsPerCall[key], 0)
    ]
  })
  return table({
    title: "2. Hot path: `getToken` on a cached token, one fiber",
    columns: [
      "call",
      "ns/call",
      "ratio to floor",
      "ratio to the registered client",
      `< ${targetNanos} ns and ≤ ${targetRatio}× floor (resolved: ≤ ${targetResolvedRatio}× registered)`,
      `young GCs per ${fmt(calls)} calls`,
      "spans/call",
      "logs/call"
    ],
    rows,
    notes: [
      `${fmt(calls)} calls per sample in an \`Effect.gen\` loop (\`for … yield*\`), median (min–max) of the ` +
      `repetitions, variants interleaved; the ratio is taken within each repetition. Target: ${
        met ? "met" : "**missed**"
      }.`,
      `A resolved tenant's hit against the same call of a registered client: ${
        resolvedMet ? "met" : "**missed**"
      } (target ≤ ${targetResolvedRatio}×).`
    ]
  })
}).pipe(Effect.scoped)
