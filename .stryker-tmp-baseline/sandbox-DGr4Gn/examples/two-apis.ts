/**
 * Two named token clients for two APIs in one program, each API with a typed client of its own,
 * and the token cache swapped: tokens on the file system so that a restarted worker reuses them, or,
 * with `REDIS_URL` set, in Redis, shared by every replica of the worker (encrypted at rest when
 * `ACCESS_TOKEN_CACHE_ENCRYPTION_KEY` holds a 32-byte key).
 *
 * With no configuration it starts an embedded token server and two APIs on loopback. With
 * `ORDERS_TOKEN_ENDPOINT`, `ORDERS_CLIENT_ID`, `ORDERS_CLIENT_SECRET`, `ORDERS_SCOPE`,
 * `ORDERS_API_URL` and the same for `BILLING_`, it talks to those. `TOKEN_CACHE_DIR` is where
 * tokens are kept (default: `access-token-example` in the system's temporary directory);
 * `WORKER_CYCLES` stops it after that many cycles; `WORKER_INTERVAL` sets the pace.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { RedisTokenCache } from "@access-token/redis"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { FileSystem, KeyValueStore } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import type { PlatformError } from "@effect/platform/Error"
import { Config, type ConfigError, Effect, Layer, Logger, Option, Schedule, type Scope } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"

class OrdersApi extends AccessTokenHttpClient.Tag("examples/OrdersApi")<OrdersApi>() {}
class BillingApi extends AccessTokenHttpClient.Tag("examples/BillingApi")<BillingApi>() {}

interface Target {
  readonly client: ClientCredentialsClient.Input
  readonly apiUrl: string
}

interface Settings {
  readonly orders: Target
  readonly billing: Target
}

const targetFromEnvironment = (prefix: string) =>
  Effect.all({
    client: ClientCredentialsClient.config(prefix),
    apiUrl: Config.string(`${prefix}_API_URL`)
  })

const fromEnvironment = Effect.gen(function*() {
  const configured = yield* Config.option(Config.string("ORDERS_TOKEN_ENDPOINT"))
  if (Option.isNone(configured)) return Option.none<Settings>()
  return Option.some<Settings>({
    orders: yield* targetFromEnvironment("ORDERS"),
    billing: yield* targetFromEnvironment("BILLING")
  })
})

const embedded: Effect.Effect<Settings, never, Scope.Scope> = Effect.gen(function*() {
  const server = yield* TokenServer.make({
    scopes: ["orders", "billing"],
    clients: [
      { clientId: "orders-worker", clientSecret: "orders-secret", scopes: ["orders"] },
      { clientId: "billing-worker", clientSecret: "billing-secret", scopes: ["billing"] }
    ]
  })
  const api = (requiredScope: string) =>
    ProtectedApi.make({ requiredScope }).pipe(Effect.provideService(TokenServer.TokenServer, server))
  const target = (index: number, scope: string, apiUrl: string): Target => ({
    client: {
      tokenEndpoint: server.tokenEndpoint,
      clientId: server.clients[index].clientId,
      clientSecret: server.clients[index].clientSecret,
      scope
    },
    apiUrl
  })
  return {
    orders: target(0, "orders", (yield* api("orders")).baseUrl),
    billing: target(1, "billing", (yield* api("billing")).baseUrl)
  }
})

/**
 * Tokens on the file system: a restarted worker finds them there while they are fresh. They are
 * credentials, so the directory is made readable by this user only.
 */
const FileSystemCache = Layer.unwrapEffect(Effect.gen(function*() {
  const directory = yield* Config.string("TOKEN_CACHE_DIR").pipe(
    Config.withDefault(Path.join(Os.tmpdir(), "access-token-example"))
  )
  const fs = yield* FileSystem.FileSystem
  yield* fs.makeDirectory(directory, { recursive: true, mode: 0o700 })
  yield* fs.chmod(directory, 0o700)
  return TokenCache.layerKeyValueStore().pipe(Layer.provide(KeyValueStore.layerFileSystem(directory)))
})).pipe(Layer.provide(NodeContext.layer))

/** Redis when `REDIS_URL` is set, the file system otherwise. */
const TokenCacheLive = Layer.unwrapEffect(
  Effect.map(
    Config.option(Config.string("REDIS_URL")),
    (redisUrl): Layer.Layer<
      TokenCache.TokenCache,
      ConfigError.ConfigError | PlatformError | RedisTokenCache.RedisConfigurationError
    > => Option.isNone(redisUrl) ? FileSystemCache : RedisTokenCache.layerConfig()
  )
)

const ApisLive = Layer.unwrapScoped(Effect.gen(function*() {
  const settings = yield* Effect.flatMap(
    fromEnvironment,
    Option.match({ onNone: () => embedded, onSome: Effect.succeed })
  )
  const tokens = TokenService.layer({
    clients: { orders: settings.orders.client, billing: settings.billing.client }
  }).pipe(
    Layer.provide([TokenEndpointClient.layer(), TokenCacheLive]),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  return Layer.mergeAll(
    OrdersApi.layer({ client: "orders", baseUrl: settings.orders.apiUrl }),
    BillingApi.layer({ client: "billing", baseUrl: settings.billing.apiUrl })
  ).pipe(Layer.provide([tokens, NodeHttpClient.layerUndici]))
}))

const worker = Effect.gen(function*() {
  const orders = yield* OrdersApi
  const billing = yield* BillingApi
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  const cycles = yield* Config.option(Config.integer("WORKER_CYCLES"))
  const cycle = Effect.gen(function*() {
    const [fromOrders, fromBilling] = yield* Effect.all([
      orders.get("test").pipe(Effect.flatMap((response) => response.text)),
      billing.get("test").pipe(Effect.flatMap((response) => response.text))
    ], { concurrency: 2 })
    yield* Effect.logInfo(`Orders API response: ${fromOrders}`)
    yield* Effect.logInfo(`Billing API response: ${fromBilling}`)
  }).pipe(Effect.catchAll((error) => Effect.logError(`API call failed: ${error.message}`)))
  yield* cycle.pipe(
    Effect.repeat(Option.match(cycles, {
      onNone: () => Schedule.asVoid(Schedule.spaced(interval)),
      onSome: (n) => Schedule.asVoid(Schedule.intersect(Schedule.spaced(interval), Schedule.recurs(n - 1)))
    }))
  )
})

worker.pipe(
  Effect.provide(ApisLive),
  Effect.provide(Logger.pretty),
  NodeRuntime.runMain
)
