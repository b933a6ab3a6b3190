/**
 * Scenario 6, memory: the heap that 10,000 cached tokens (10,000 scopes of one client) cost beyond
 * the tokens themselves, with the default in-memory `TokenCache` and with a cache that stores
 * nothing (the service's own in-process slots only).
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { Context, DateTime, Effect, Layer, Option } from "effect"
import * as Crypto from "node:crypto"
import { offlineClient } from "./lib/fixtures.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const entries = 10_000
const targetBytes = 1024
/** Runs (`BENCH_MEMORY_REPS`, default 3): heap sizes after full collections barely vary. */
const repetitions = Math.max(1, Number(process.env.BENCH_MEMORY_REPS ?? 3) || 3)

const gc = (globalThis as { gc?: () => void }).gc

/** The heap in use after full collections, with time for finalizers in between. */
const heapUsed = Effect.gen(function*() {
  for (let i = 0; i < 3; i++) {
    gc!()
    yield* Effect.sleep("10 millis")
  }
  return process.memoryUsage().heapUsed
})

/** A cache that stores nothing: only the service's own slots hold tokens. */
const noCache = Layer.succeed(
  TokenCache.TokenCache,
  TokenCache.make({
    get: () => Effect.succeed(Option.none()),
    set: () => Effect.void,
    remove: () => Effect.void
  })
)

/**
 * Bytes per token on its own, and per cached token beyond the token: the heap before the tokens are
 * made, after (they are kept throughout), and after the service has cached every one of them.
 */
const measure = (cache: Layer.Layer<TokenCache.TokenCache>, entries: number) =>
  Effect.gen(function*() {
    const receivedAt = yield* DateTime.now
    const tokens = new Map<string, AccessToken.AccessToken>()
    const context = yield* Layer.build(
      TokenService.layer({ clients: { api: offlineClient } }).pipe(
        Layer.provide([
          TokenEndpointClient.layerTest((_, parameters) => Effect.succeed(tokens.get(parameters!.scope!)!)),
          cache
        ])
      )
    )
    const service = Context.get(context, TokenService.TokenService)
    // One acquisition first, so that structures built on first use are not counted per entry.
    tokens.set("warm-up", AccessToken.make({ value: "warm-up", receivedAt, expiresIn: "1 hour" }))
    yield* service.getToken("api", { scope: "warm-up" })
    const empty = yield* heapUsed
    for (let i = 0; i < entries; i++) {
      // A flat 800-character string per token, as a JWT access token received on the wire would be.
      const value = Crypto.randomBytes(600).toString("base64url")
      tokens.set(`scope-${i}`, AccessToken.make({ value, receivedAt, expiresIn: "1 hour", scope: `scope-${i}` }))
    }
    const made = yield* heapUsed
    yield* Effect.forEach(
      Array.from({ length: entries }, (_, i) => `scope-${i}`),
      (scope) => service.getToken("api", { scope }),
      { concurrency: 100, discard: true }
    )
    const cached = yield* heapUsed
    // Every token is still cached: asking again must give the same token without a new request.
    let misses = 0
    for (let i = 0; i < entries; i++) {
      const scope = `scope-${i}`
      if ((yield* service.getToken("api", { scope })) !== tokens.get(scope)) misses++
    }
    return { token: (made - empty) / entries, entry: (cached - made) / entries, misses }
  }).pipe(Effect.orDie, Effect.scoped)

export const run = Effect.gen(function*() {
  if (gc === undefined) {
    return table({
      title: "6. Memory",
      columns: ["measure", "value"],
      rows: [["skipped", "run with `node --expose-gc` (`npm run bench` does)"]]
    })
  }
  const own: Array<number> = []
  const memory: Array<number> = []
  const slotsOnly: Array<number> = []
  let misses = 0
  // A first, smaller run of each, dropped: it pays for compiling the code paths.
  yield* measure(TokenCache.layerMemory(), entries / 10)
  yield* measure(noCache, entries / 10)
  for (let rep = 0; rep < repetitions; rep++) {
    const withMemory = yield* measure(TokenCache.layerMemory(), entries)
    const withNothing = yield* measure(noCache, entries)
    own.push(withMemory.token, withNothing.token)
    memory.push(withMemory.entry)
    slotsOnly.push(withNothing.entry)
    misses += withMemory.misses + withNothing.misses
  }
  const ok = median(memory) < targetBytes
  return table({
    title: `6. Memory: ${fmt(entries)} cached tokens (one client, ${fmt(entries)} scopes)`,
    columns: ["", "bytes per entry", `< ${fmt(targetBytes)} B beyond the token`],
    rows: [
      ["the token itself (`AccessToken`, 800-character value)", spread(own), ""],
      ["`TokenService` + `TokenCache.layerMemory()` (the default), beyond the token", spread(memory), verdict(ok)],
      ["`TokenService` alone (a `TokenCache` that stores nothing), beyond the token", spread(slotsOnly), ""]
    ],
    notes: [
      `\`process.memoryUsage().heapUsed\` after \`global.gc()\`: before and after making ${
        fmt(entries)
      } tokens, then after the service has cached them all; median (min–max) of ${repetitions} runs after a ` +
      `smaller one, dropped. Every token served again from the cache afterwards: ${
        misses === 0 ? "yes" : `no, ${misses} were not`
      }.`
    ]
  })
})
