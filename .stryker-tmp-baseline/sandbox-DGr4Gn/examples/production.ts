/**
 * The production recipe: a worker that calls two APIs with tokens of two clients, configured only
 * by environment variables (the table is in the core README, "Production recipe").
 *
 * - `orders` names its authorization server by issuer: the token endpoint is read from the issuer's
 *   metadata (RFC 8414). It authenticates with a client secret.
 * - `billing` authenticates with `private_key_jwt`: `BILLING_PRIVATE_KEY` (a PKCS#8 PEM or a private
 *   JWK) selects it; the assertion's audience is `BILLING_ISSUER`.
 * - Tokens are shared by every replica through Redis, encrypted at rest: `ACCESS_TOKEN_CACHE_ENCRYPTION_KEY`
 *   is required, so that no replica ever writes a token in clear.
 * - The tokens are acquired while the worker starts (warm-up); a client the token endpoint refuses
 *   stops it at start with that error (fail-fast), while a transient failure is retried in the
 *   background and shows on `GET /ready` (port `READY_PORT`), for the orchestrator's readiness probe.
 * - Logs are JSON lines, one object per line, for a log collector.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { RedisTokenCache } from "@access-token/redis"
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Logger, Redacted, Schedule } from "effect"
import { createServer } from "node:http"

class OrdersApi extends AccessTokenHttpClient.Tag("production/OrdersApi")<OrdersApi>() {}
class BillingApi extends AccessTokenHttpClient.Tag("production/BillingApi")<BillingApi>() {}

const Tokens = TokenService.layerConfig({
  clients: {
    // ORDERS_ISSUER, ORDERS_CLIENT_ID, ORDERS_CLIENT_SECRET, ORDERS_SCOPE
    orders: ClientCredentialsClient.config("ORDERS"),
    // BILLING_ISSUER, BILLING_CLIENT_ID, BILLING_PRIVATE_KEY, BILLING_PRIVATE_KEY_ID, BILLING_SCOPE
    billing: ClientCredentialsClient.config("BILLING")
  },
  warmUp: true,
  failFast: true
}).pipe(
  Layer.provide([
    TokenEndpointClient.layer(),
    RedisTokenCache.layerConfig({
      url: Config.redacted("REDIS_URL").pipe(Config.withDefault(Redacted.make("redis://127.0.0.1:6379"))),
      // Required: tokens are credentials, and every replica must hold the same key.
      encryptionKey: Config.redacted("ACCESS_TOKEN_CACHE_ENCRYPTION_KEY"),
      prefix: Config.string("ACCESS_TOKEN_CACHE_PREFIX").pipe(Config.withDefault(RedisTokenCache.defaultPrefix))
    })
  ]),
  Layer.provide(NodeHttpClient.layerUndici)
)

const Apis = Layer.mergeAll(
  OrdersApi.layerConfig({ client: "orders", baseUrl: Config.string("ORDERS_API_URL") }),
  BillingApi.layerConfig({ client: "billing", baseUrl: Config.string("BILLING_API_URL") })
)

// GET /ready: 200 while every client's token flows, 503 otherwise. It is up once the tokens are.
const Readiness = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/ready",
    Effect.flatMap(TokenService.readiness, (view) =>
      HttpServerResponse.json({
        ready: view.ready,
        clients: view.clients.map(({ client, ready }) => ({ client, ready }))
      }, { status: view.ready ? 200 : 503 }))
  ),
  HttpServer.serve(),
  HttpServer.withLogAddress,
  Layer.provide(Layer.unwrapEffect(
    Effect.map(
      Config.integer("READY_PORT").pipe(Config.withDefault(8080)),
      (port) => NodeHttpServer.layer(createServer, { port })
    )
  ))
)

const worker = Effect.gen(function*() {
  const orders = yield* OrdersApi
  const billing = yield* BillingApi
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  const call = (name: string, client: typeof orders) =>
    client.get("test").pipe(
      Effect.flatMap((response) => response.text),
      Effect.flatMap((text) => Effect.logInfo(`${name} API response: ${text}`)),
      // An API or the token server down for a moment fails one call, not the worker.
      Effect.catchAll((error) => Effect.logError(`${name} API call failed: ${error.message}`))
    )
  yield* Effect.all([call("Orders", orders), call("Billing", billing)], { concurrency: 2 }).pipe(
    Effect.repeat(Schedule.spaced(interval))
  )
})

const Live = Layer.mergeAll(Apis, Readiness).pipe(
  Layer.provideMerge(Tokens),
  Layer.provide(NodeHttpClient.layerUndici)
)

worker.pipe(
  Effect.provide(Live),
  Effect.provide(Logger.json),
  NodeRuntime.runMain
)
