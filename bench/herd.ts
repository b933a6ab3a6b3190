/**
 * Scenario 3, the herd: a worker starting cold sends 10,000 requests at once through the
 * middleware, against the embedded OAuth 2.0 server and its protected API. One token request must
 * serve them all; and 100 clients × 100 requests must cause exactly 100. A client configured by its
 * issuer alone must add exactly one metadata request.
 */
import type { ClientCredentialsClient } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { HttpClient } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { getStatus } from "./lib/fixtures.js"
import { boundedUndici, clientOf, tokenService } from "./lib/servers.js"
import { fmt, spread, table, verdict } from "./lib/stats.js"

const requests = 10_000
const clientCount = 100
/** Sockets per origin for the API client: see `boundedUndici`. */
const connections = 128
/**
 * Cold starts per herd (`BENCH_HERD_REPS`, default 3): each one costs seconds, as the embedded API
 * verifies every token's ES256 signature; the token request counts do not vary anyway.
 */
const repetitions = Math.max(1, Number(process.env.BENCH_HERD_REPS ?? 3) || 3)

interface Sample {
  readonly tokenRequests: number
  readonly metadataRequests: number
  readonly firstMs: number
  readonly lastMs: number
  readonly failures: number
}

/** Sends `requests.length` requests at once and times the first and last answers. */
const stampede = (sends: ReadonlyArray<Effect.Effect<number, unknown>>) =>
  Effect.gen(function*() {
    const startedAt = performance.now()
    let first = Number.POSITIVE_INFINITY
    let last = 0
    let failures = 0
    yield* Effect.forEach(
      sends,
      (send) =>
        Effect.map(Effect.catchAllCause(send, () => Effect.succeed(0)), (status) => {
          const at = performance.now() - startedAt
          first = Math.min(first, at)
          last = Math.max(last, at)
          if (status !== 200) failures++
        }),
      { concurrency: "unbounded", discard: true }
    )
    return { firstMs: first, lastMs: last, failures }
  })

/** The `index`th client of the server configured by issuer: its token endpoint comes from the metadata. */
const byIssuer = (server: TokenServer.TokenServer.Service, index = 0): ClientCredentialsClient.Input => {
  const { tokenEndpoint: _, ...client } = clientOf(server, index)
  return { ...client, issuer: server.issuer }
}

/** One cold start: a new token service and a new API client, then the stampede. */
const coldStart = (
  server: TokenServer.TokenServer.Service,
  api: ProtectedApi.ProtectedApi.Service,
  names: ReadonlyArray<string>,
  perClient: number,
  definition: typeof clientOf = clientOf
): Effect.Effect<Sample> =>
  Effect.gen(function*() {
    const tokens = yield* tokenService({
      clients: Object.fromEntries(names.map((name, i) => [name, definition(server, i)]))
    })
    const http = Context.get(yield* Layer.build(boundedUndici(connections)), HttpClient.HttpClient)
    const url = new URL("test", api.baseUrl).toString()
    const sends = names.flatMap((name) => {
      const send = getStatus(AccessTokenHttpClient.make(http, tokens, { client: name }), url)
      return Array.from({ length: perClient }, () => send)
    })
    const before = yield* server.tokenRequestCount
    const metadataBefore = yield* server.metadataRequestCount
    const result = yield* stampede(sends)
    return {
      ...result,
      tokenRequests: (yield* server.tokenRequestCount) - before,
      metadataRequests: (yield* server.metadataRequestCount) - metadataBefore
    }
  }).pipe(Effect.scoped)

const servers = (clients: number) =>
  Effect.gen(function*() {
    const server = yield* TokenServer.make({
      clients: Array.from({ length: clients }, (_, i) => ({ clientId: `client-${i}`, clientSecret: `secret-${i}` }))
    })
    const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
    return { server, api }
  })

const row = (label: string, samples: ReadonlyArray<Sample>, expected: number, expectedMetadata = 0) => {
  const ok = samples.every((sample) =>
    sample.tokenRequests === expected && sample.metadataRequests === expectedMetadata
  )
  return {
    ok,
    cells: [
      label,
      fmt(requests),
      spread(samples.map((sample) => sample.tokenRequests)),
      spread(samples.map((sample) => sample.metadataRequests)),
      `${expected} and ${expectedMetadata}: ${verdict(ok)}`,
      spread(samples.map((sample) => sample.firstMs)),
      spread(samples.map((sample) => sample.lastMs)),
      String(samples.reduce((sum, sample) => sum + sample.failures, 0))
    ]
  }
}

export const run = Effect.gen(function*() {
  const one = yield* servers(1)
  const many = yield* servers(clientCount)
  const names = Array.from({ length: clientCount }, (_, i) => `client-${i}`)

  // A first, smaller cold start of each, dropped: it pays for loading and compiling the code.
  yield* coldStart(one.server, one.api, ["api"], requests / 10)
  yield* coldStart(many.server, many.api, names, requests / clientCount / 10)
  yield* coldStart(one.server, one.api, ["api"], requests / 10, byIssuer)

  const single: Array<Sample> = []
  const multiple: Array<Sample> = []
  const issuer: Array<Sample> = []
  for (let rep = 0; rep < repetitions; rep++) {
    single.push(yield* coldStart(one.server, one.api, ["api"], requests))
    multiple.push(yield* coldStart(many.server, many.api, names, requests / clientCount))
    issuer.push(yield* coldStart(one.server, one.api, ["api"], requests, byIssuer))
  }
  const rows = [
    row("1 client, 10,000 concurrent requests", single, 1),
    row(`${clientCount} clients × ${requests / clientCount} concurrent requests`, multiple, clientCount),
    row("1 client configured by issuer, 10,000 concurrent requests", issuer, 1, 1)
  ]
  return table({
    title: "3. Herd: cold cache, 10,000 concurrent requests through the middleware",
    columns: [
      "herd",
      "requests",
      "token requests",
      "metadata requests",
      "expected (token and metadata requests)",
      "first response ms",
      "last response ms",
      "failed"
    ],
    rows: rows.map((row) => row.cells),
    notes: [
      `Median (min–max) of ${repetitions} cold starts (a new \`TokenService\` and API client each) after a ` +
      `smaller one, dropped, that warms up the code. ` +
      `Token and metadata requests as counted by the token server (metadata at either well-known location). Embedded oidc-provider token server and protected API ` +
      `(ES256 JWTs, verified on every request) in this process; the API client opens at most ${connections} ` +
      `connections. Target (exactly the expected token requests, every time): ${
        rows.every((row) => row.ok) ? "met" : "**missed**"
      }.`
    ]
  })
}).pipe(Effect.scoped)
