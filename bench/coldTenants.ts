/**
 * Scenario 10, cold tenants: 10,000 tenants, each its own client found by `resolveClient`, all
 * asking for their first token at once. Token requests counted, the most in flight at once to the
 * one token endpoint (against `maxConcurrentRequests`), the time until every tenant has its token,
 * and the heap each tenant costs beyond its token.
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { Context, DateTime, Duration, Effect, Layer } from "effect"
import * as Crypto from "node:crypto"
import { offlineClient } from "./lib/fixtures.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const tenants = 10_000
/** What the token endpoint takes per request: a fast authorization server on the same network. */
const latency = Duration.millis(2)
const targetBytes = 2048
/** Runs (`BENCH_TENANTS_REPS`, default 3). */
const repetitions = Math.max(1, Number(process.env.BENCH_TENANTS_REPS ?? 3) || 3)

const gc = (globalThis as { gc?: () => void }).gc

const heapUsed = Effect.gen(function*() {
  for (let i = 0; i < 3; i++) {
    gc?.()
    yield* Effect.sleep("10 millis")
  }
  return process.memoryUsage().heapUsed
})

/**
 * One cold start of `count` tenants named after `run`: every run meets names never seen before,
 * as a worker meets new tenants, so that each pays what a new name costs the whole process
 * (Effect keeps every metric label it has seen), not only the service.
 */
const measure = (count: number, run: string) =>
  Effect.gen(function*() {
    const receivedAt = yield* DateTime.now
    const tokens = new Map<string, AccessToken.AccessToken>()
    const state = { requests: 0, inFlight: 0, maxInFlight: 0 }
    const endpoint = TokenEndpointClient.layerTest((client) =>
      Effect.suspend(() => {
        state.requests++
        state.maxInFlight = Math.max(state.maxInFlight, ++state.inFlight)
        return Effect.as(Effect.sleep(latency), tokens.get(client.name)!)
      }).pipe(Effect.ensuring(Effect.sync(() => state.inFlight--)))
    )
    const context = yield* Layer.build(
      TokenService.layer({
        clients: {},
        resolveClient: (name) => Effect.succeed({ ...offlineClient, clientId: name })
      }).pipe(Layer.provide([endpoint, TokenCache.layerMemory()]))
    )
    const service = Context.get(context, TokenService.TokenService)
    const names = Array.from({ length: count }, (_, i) => `tenant-${run}-${i}`)
    for (const name of names) {
      // A flat 800-character string per token, as a JWT access token received on the wire would be.
      const value = Crypto.randomBytes(600).toString("base64url")
      tokens.set(name, AccessToken.make({ value, receivedAt, expiresIn: "1 hour" }))
    }
    // One tenant first, so that structures built on first use are not counted per tenant.
    tokens.set(`warm-up-${run}`, AccessToken.make({ value: "warm-up", receivedAt, expiresIn: "1 hour" }))
    yield* service.getToken(`warm-up-${run}`)
    state.requests = 0
    const made = yield* heapUsed
    const started = performance.now()
    yield* Effect.forEach(names, (name) => service.getToken(name), { concurrency: "unbounded", discard: true })
    const elapsed = performance.now() - started
    const after = yield* heapUsed
    // Every tenant's token is held: asking again makes no request.
    yield* Effect.forEach(names, (name) => service.getToken(name), { discard: true })
    return {
      requests: state.requests,
      maxInFlight: state.maxInFlight,
      elapsed,
      bytes: (after - made) / count
    }
  }).pipe(Effect.orDie, Effect.scoped)

/** Tenants that come and go in the churn measure, and the capacities they fill. */
const churnCapacity = 1_000
const churnFill = 2_000
const churnTenants = 8_000
/** Growth per tenant, once every capacity is full, that still counts as flat (the noise of `heapUsed`). */
const flatBytes = 64

/**
 * Tenants that come and go with a token endpoint path (`endpoint`) or an issuer (`issuer`) of their
 * own, on one host: the heap once `churnFill` tenants have filled every capacity (resolved clients,
 * the `TokenCache`, metric labels), and again after `churnTenants` more. What stays per tenant is
 * state no capacity bounds.
 */
const churn = (perTenant: "endpoint" | "issuer", run: string) =>
  Effect.gen(function*() {
    const endpointOf = (tenant: string) => `http://127.0.0.1:9/${tenant}/oauth2/v2.0/token`
    const issuerOf = (tenant: string) => `http://127.0.0.1:9/${tenant}`
    const endpoint = TokenEndpointClient.layerTest(
      () =>
        Effect.map(
          DateTime.now,
          (receivedAt) =>
            AccessToken.make({ value: Crypto.randomBytes(600).toString("base64url"), receivedAt, expiresIn: "1 hour" })
        ),
      (issuer) =>
        Effect.succeed({
          metadata: { issuer, token_endpoint: `${issuer}/oauth2/v2.0/token` },
          location: `${issuer}/.well-known/openid-configuration`,
          maxAge: undefined
        })
    )
    const context = yield* Layer.build(
      TokenService.layer({
        clients: {},
        resolveClient: (name) =>
          Effect.succeed(
            perTenant === "endpoint"
              ? { ...offlineClient, tokenEndpoint: endpointOf(name), clientId: name }
              : { clientId: name, clientSecret: offlineClient.clientSecret, issuer: issuerOf(name) }
          ),
        resolvedClientCapacity: churnCapacity
      }).pipe(Layer.provide([endpoint, TokenCache.layerMemory({ capacity: churnCapacity })]))
    )
    const service = Context.get(context, TokenService.TokenService)
    const tenantsFrom = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => `churn-${perTenant}-${run}-${from + i}`)
    const ask = (names: ReadonlyArray<string>) =>
      Effect.forEach(names, (name) => service.getToken(name), { concurrency: 64, discard: true })
    yield* ask(tenantsFrom(0, churnFill))
    const full = yield* heapUsed
    yield* ask(tenantsFrom(churnFill, churnTenants))
    const after = yield* heapUsed
    return (after - full) / churnTenants
  }).pipe(Effect.orDie, Effect.scoped)

export const run = Effect.gen(function*() {
  // A first, smaller run, dropped: it pays for compiling the code paths.
  yield* measure(tenants / 10, "first")
  const runs = []
  for (let rep = 0; rep < repetitions; rep++) runs.push(yield* measure(tenants, String(rep)))
  const exact = runs.every((run) => run.requests === tenants)
  const bound = TokenService.defaultMaxConcurrentRequests
  const bounded = runs.every((run) => run.maxInFlight <= bound)
  const floor = (tenants / bound) * Duration.toMillis(latency)
  const bytes = runs.map((run) => run.bytes)
  const churned = { endpoint: [] as Array<number>, issuer: [] as Array<number> }
  for (let rep = 0; rep < repetitions; rep++) {
    for (const perTenant of ["endpoint", "issuer"] as const) {
      churned[perTenant].push(yield* churn(perTenant, String(rep)))
    }
  }
  const churnRow = (perTenant: "endpoint" | "issuer", label: string) => [
    `heap per tenant once every capacity is full, ${label} (bytes)`,
    gc === undefined ? "skipped: run with `node --expose-gc`" : spread(churned[perTenant]),
    gc === undefined ? "" : `< ${flatBytes} (flat): ${verdict(median(churned[perTenant]) < flatBytes)}`
  ]
  return table({
    title: `10. Cold tenants: ${fmt(tenants)} clients found by \`resolveClient\`, all asking at once`,
    columns: ["measure", "value", "target"],
    rows: [
      ["token requests", runs.map((run) => fmt(run.requests)).join(", "), `exactly ${fmt(tenants)}: ${verdict(exact)}`],
      [
        "most in flight at once to the token endpoint",
        runs.map((run) => fmt(run.maxInFlight)).join(", "),
        `≤ ${bound} (\`maxConcurrentRequests\`): ${verdict(bounded)}`
      ],
      [
        "time until every tenant has its token (ms)",
        spread(runs.map((run) => run.elapsed)),
        `floor ${fmt(floor)} ms (${fmt(tenants)} / ${bound} × ${Duration.toMillis(latency)} ms)`
      ],
      [
        "heap per tenant beyond its token (bytes)",
        gc === undefined ? "skipped: run with `node --expose-gc`" : spread(bytes),
        gc === undefined ? "" : `< ${fmt(targetBytes)}: ${verdict(median(bytes) < targetBytes)}`
      ],
      churnRow("endpoint", "a token endpoint path per tenant on one host"),
      churnRow("issuer", "an issuer per tenant")
    ],
    notes: [
      `Tokens from \`TokenEndpointClient.layerTest\` after ${
        Duration.toMillis(latency)
      } ms each, the default \`TokenCache.layerMemory()\`; the heap (\`heapUsed\` after \`global.gc()\`) before ` +
      `and after the tenants' first calls, with their tokens made beforehand. ${repetitions} runs after a ` +
      `smaller one, dropped.`,
      `The last two rows: tenants that come and go, each with a token endpoint path (or an issuer) of its own on one ` +
      `host, \`resolvedClientCapacity\` and the \`TokenCache\` at ${fmt(churnCapacity)}; the heap after ` +
      `${fmt(churnFill)} tenants have filled every capacity, and again after ${fmt(churnTenants)} more, 64 at a time.`
    ]
  })
})
