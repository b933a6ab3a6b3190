/**
 * Scenario 9, many tokens: what a miss costs when the service's table of tokens is full (10,000
 * slots, none expired, so each new token must evict) beside a miss when the table is nearly empty.
 * Each miss is a new scope of one client, answered by `layerTest` without I/O, with a `TokenCache`
 * that stores nothing, so that only the service's own bookkeeping is measured. CPU time (user +
 * system) per miss, the two variants paired in alternating order.
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { Context, DateTime, Effect, Layer, Option } from "effect"
import { offlineClient } from "./lib/fixtures.js"
import { repetitions } from "./lib/interleave.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const capacity = TokenService.defaultCapacity
const misses = 5_000
const targetRatio = 2

/** A cache that stores nothing: only the service's own slots hold tokens. */
const noCache = Layer.succeed(
  TokenCache.TokenCache,
  TokenCache.make({ get: () => Effect.succeed(Option.none()), set: () => Effect.void, remove: () => Effect.void })
)

const service = Layer.build(
  TokenService.layer({ clients: { api: offlineClient }, capacity }).pipe(
    Layer.provide([
      TokenEndpointClient.layerTest(() =>
        Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value: "t", receivedAt, expiresIn: "1 hour" }))
      ),
      noCache
    ])
  )
).pipe(Effect.orDie, Effect.map(Context.get(TokenService.TokenService)))

/** CPU nanoseconds per miss: `misses` new scopes on a service whose table holds `prefilled` fresh tokens. */
const missCost = (prefilled: number) =>
  Effect.scoped(Effect.gen(function*() {
    const tokens = yield* service
    for (let i = 0; i < prefilled; i++) yield* tokens.getToken("api", { scope: `held.${i}` })
    const started = process.cpuUsage()
    for (let i = 0; i < misses; i++) yield* tokens.getToken("api", { scope: `new.${i}` })
    const used = process.cpuUsage(started)
    return ((used.user + used.system) * 1000) / misses
  }))

export const run = Effect.gen(function*() {
  const empty: Array<number> = []
  const full: Array<number> = []
  for (let i = 0; i < repetitions; i++) {
    if (i % 2 === 0) {
      empty.push(yield* missCost(0))
      full.push(yield* missCost(capacity))
    } else {
      full.push(yield* missCost(capacity))
      empty.push(yield* missCost(0))
    }
  }
  const ratios = full.map((nanos, i) => nanos / empty[i])
  const met = median(ratios) <= targetRatio
  return table({
    title: `9. Many tokens: a miss with the table full beside a miss with it empty (${fmt(capacity)} slots)`,
    columns: ["table", "CPU µs per miss", "ratio to empty", `≤ ${targetRatio}×`],
    rows: [
      ["nearly empty (no eviction)", spread(empty.map((nanos) => nanos / 1000), 1), "1 (baseline)", ""],
      [
        `full of fresh tokens (each miss must evict)`,
        spread(full.map((nanos) => nanos / 1000), 1),
        spread(ratios, 2),
        verdict(met)
      ]
    ],
    notes: [
      `${fmt(misses)} misses per sample (new scopes of one client, tokens from \`layerTest\`, a \`TokenCache\` that ` +
      `stores nothing), ${repetitions} pairs in alternating order, median (min–max). A full table evicts a tenth ` +
      `of itself at once (expired tokens first, then the oldest idle ones), so its pass over the table is paid ` +
      `once per ${fmt(capacity / 10)} misses. Target: ${verdict(met)}.`
    ]
  })
})
