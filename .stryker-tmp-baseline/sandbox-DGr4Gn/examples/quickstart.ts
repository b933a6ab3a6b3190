/**
 * The README's quick start, type-checked and tested with the rest of the examples. It reads the
 * client and the API from the environment (`API_TOKEN_ENDPOINT`, `API_CLIENT_ID`,
 * `API_CLIENT_SECRET`, optional `API_SCOPE`, and `API_BASE_URL`); `worker.ts` is the same loop
 * against embedded servers when nothing is set.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Schedule } from "effect"

const Tokens = TokenService.layerConfigDefault({ clients: { api: ClientCredentialsClient.config("API") } }).pipe(
  Layer.provide(NodeHttpClient.layerUndici)
)

const Api = AccessTokenHttpClient.layerConfig({ baseUrl: Config.string("API_BASE_URL") }).pipe(
  Layer.provide([Tokens, NodeHttpClient.layerUndici])
)

const worker = Effect.gen(function*() {
  const client = yield* HttpClient.HttpClient
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  const cycle = client.get("test").pipe(
    Effect.flatMap((response) => response.text),
    Effect.flatMap((text) => Effect.log(`API response: ${text}`)),
    // The token server or the API down for a moment fails one cycle, not the worker.
    Effect.catchAll((error) => Effect.logError(`API call failed: ${error.message}`))
  )
  yield* cycle.pipe(Effect.repeat(Schedule.spaced(interval)))
})

NodeRuntime.runMain(worker.pipe(Effect.provide(Api)))
