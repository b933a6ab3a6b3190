/**
 * A worker that calls an API on behalf of many tenants, each with its own OAuth 2.0 client, read
 * from a store while the worker runs: the token service knows no client when it starts, and finds
 * each one through `resolveClient`, once, whatever the number of concurrent calls.
 *
 * Every cycle (`WORKER_INTERVAL`, default 5 seconds) it reads the tenants from the store and makes
 * one API call per tenant. Along the way, as in production:
 * - cycle 2: a tenant joins (added to the store; nothing else to do);
 * - cycle 3: a tenant's secret is rotated out of band (at the authorization server and in the
 *   store), and the worker drops the client so that its next call resolves the new secret;
 * - cycle 4: a tenant leaves (removed from the store) and is dropped with its tokens.
 *
 * It starts an embedded OAuth 2.0 token server and a protected API on loopback; the store is a
 * `Ref` standing for a database.
 */
// @ts-nocheck

import { TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Logger, Redacted, Ref, Schedule } from "effect"

/** A tenant as the store holds it: the client it calls the API with. */
interface Tenant {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
}

/** The tenants the authorization server knows, with the secrets it starts with. */
const registered = [
  { clientId: "tenant-acme", clientSecret: "acme-secret-1" },
  { clientId: "tenant-globex", clientSecret: "globex-secret-1" },
  { clientId: "tenant-initech", clientSecret: "initech-secret-1" }
]

const program = Effect.gen(function*() {
  const server = yield* TokenServer.make({
    clients: registered.map((client) => ({ ...client, scopes: ["api"] }))
  })
  const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
  yield* Effect.logInfo(`Embedded token server at ${server.issuer}, API at ${api.baseUrl}`)

  // The store, standing for a database: two tenants at start.
  const store = yield* Ref.make(
    new Map<string, Tenant>([
      ["acme", { clientId: "tenant-acme", clientSecret: Redacted.make("acme-secret-1") }],
      ["globex", { clientId: "tenant-globex", clientSecret: Redacted.make("globex-secret-1") }]
    ])
  )

  // No client at start: each tenant's is resolved from the store the first time it is asked for.
  const tokens = yield* Layer.build(
    TokenService.layerDefault({
      clients: {},
      resolveClient: (tenant) =>
        Effect.flatMap(Ref.get(store), (tenants) => {
          const found = tenants.get(tenant)
          return found === undefined
            ? Effect.fail(`no tenant ${tenant} in the store`)
            : Effect.succeed({ tokenEndpoint: server.tokenEndpoint, ...found, scope: "api" })
        })
    }).pipe(Layer.provideMerge(NodeHttpClient.layerUndici))
  )

  const callFor = (tenant: string) =>
    Effect.gen(function*() {
      const client = (yield* HttpClient.HttpClient).pipe(
        AccessTokenHttpClient.withAccessToken(tenant),
        HttpClient.filterStatusOk
      )
      const response = yield* client.get(new URL("test", api.baseUrl))
      const claims = (yield* response.json) as ReadonlyArray<{ readonly type: string; readonly value: string }>
      const clientId = claims.find((claim) => claim.type === "client_id")?.value
      yield* Effect.logInfo(`Tenant ${tenant}: API response ${response.status} as ${clientId}`)
    }).pipe(
      Effect.catchAll((error) => Effect.logError(`Tenant ${tenant}: API call failed: ${error.message}`))
    )

  /** What happens to the tenants between cycles. */
  const changes = (cycle: number) => {
    switch (cycle) {
      case 2:
        return Effect.zipRight(
          Ref.update(store, (tenants) =>
            new Map(tenants).set("initech", {
              clientId: "tenant-initech",
              clientSecret: Redacted.make("initech-secret-1")
            })),
          Effect.logInfo("Tenant initech joined")
        )
      case 3:
        return Effect.all([
          server.setClientSecret("tenant-acme", Redacted.make("acme-secret-2")),
          Ref.update(store, (tenants) =>
            new Map(tenants).set("acme", {
              clientId: "tenant-acme",
              clientSecret: Redacted.make("acme-secret-2")
            })),
          // Rotated out of band: its next call resolves the new secret and gets a token with it.
          TokenService.drop("acme"),
          Effect.logInfo("Tenant acme's secret was rotated")
        ], { discard: true })
      case 4:
        return Effect.all([
          Ref.update(store, (tenants) => {
            const next = new Map(tenants)
            next.delete("globex")
            return next
          }),
          TokenService.drop("globex"),
          Effect.logInfo("Tenant globex left")
        ], { discard: true })
      default:
        return Effect.void
    }
  }

  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  const cycle = yield* Ref.make(0)
  yield* Effect.gen(function*() {
    const n = yield* Ref.updateAndGet(cycle, (n) => n + 1)
    yield* changes(n)
    const tenants = Array.from((yield* Ref.get(store)).keys())
    yield* Effect.logInfo(`Cycle ${n}: ${tenants.length} tenants`)
    // One call per tenant, all at once: a cold start of many tenants queues at the token endpoint
    // within `maxConcurrentRequests` rather than flooding it.
    yield* Effect.forEach(tenants, callFor, { concurrency: "unbounded", discard: true })
    const requests = yield* server.tokenRequests
    yield* Effect.logInfo(
      `Token requests so far: ${requests.length} (${requests.filter((r) => r.outcome === "error").length} refused)`
    )
  }).pipe(
    Effect.provide(tokens),
    Effect.repeat(Schedule.spaced(interval))
  )
})

program.pipe(
  Effect.scoped,
  Effect.provide(Logger.pretty),
  NodeRuntime.runMain
)
