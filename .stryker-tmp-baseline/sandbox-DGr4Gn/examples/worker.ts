/**
 * The worker of the seed documents: every 5 seconds it logs "Worker running at: <time>", calls
 * `test` on the API through an authenticated `HttpClient`, and logs the answer. All token
 * management is done under the covers.
 *
 * With no configuration it starts an embedded OAuth 2.0 token server and a protected API on
 * loopback. With `IDENTITYSERVER_ISSUER` (or `IDENTITYSERVER_TOKEN_ENDPOINT`), `IDENTITYSERVER_CLIENT_ID`,
 * `IDENTITYSERVER_CLIENT_SECRET`, `IDENTITYSERVER_SCOPE` and `API_BASE_URL` set, it talks to those;
 * given the issuer, it finds the token endpoint in the issuer's metadata (see `settings.ts`).
 * `WORKER_INTERVAL` (e.g. `1 second`) changes the pace.
 */
// @ts-nocheck

import { TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, DateTime, Effect, Layer, Logger, Schedule } from "effect"
import { settings } from "./settings.js"

/** The program's `HttpClient`: authenticated with tokens of the client "identityserver". */
const ApiClientLive = Layer.unwrapScoped(
  Effect.gen(function*() {
    const { apiBaseUrl, client } = yield* settings
    const tokens = TokenService.layerDefault({ clients: { identityserver: client } }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
    return AccessTokenHttpClient.layer({ client: "identityserver", baseUrl: apiBaseUrl }).pipe(
      Layer.provide([tokens, NodeHttpClient.layerUndici])
    )
  })
)

const worker = Effect.gen(function*() {
  const client = yield* HttpClient.HttpClient
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  const cycle = Effect.gen(function*() {
    yield* Effect.logInfo(`Worker running at: ${DateTime.formatIso(yield* DateTime.now)}`)
    const response = yield* client.get("test").pipe(Effect.flatMap((response) => response.text))
    yield* Effect.logInfo(`API response: ${response}`)
  })
  yield* cycle.pipe(
    Effect.catchAll((error) => Effect.logError(`API call failed: ${error.message}`)),
    Effect.repeat(Schedule.spaced(interval))
  )
})

worker.pipe(
  Effect.provide(ApiClientLive),
  Effect.provide(Logger.pretty),
  NodeRuntime.runMain
)
