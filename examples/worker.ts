/**
 * The worker of the seed documents: every 5 seconds it logs "Worker running at: <time>", calls
 * `test` on the API through an authenticated `HttpClient`, and logs the answer. All token
 * management is done under the covers.
 *
 * With no configuration it starts an embedded OAuth 2.0 token server and a protected API on
 * loopback. With `IDENTITYSERVER_ISSUER` (or `IDENTITYSERVER_TOKEN_ENDPOINT`), `IDENTITYSERVER_CLIENT_ID`,
 * `IDENTITYSERVER_CLIENT_SECRET`, `IDENTITYSERVER_SCOPE` and `API_BASE_URL` set, it talks to those;
 * given the issuer, it finds the token endpoint in the issuer's metadata.
 * `WORKER_INTERVAL` (e.g. `1 second`) changes the pace.
 */
import { ClientCredentialsClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Config, DateTime, Effect, Layer, Logger, Option, Schedule, type Scope } from "effect"

/** Where the worker gets tokens and which API it calls. */
interface Settings {
  readonly client: ClientCredentialsClient.Input
  readonly apiBaseUrl: string
}

/** Settings from the environment, when an issuer or a token endpoint is configured there. */
const fromEnvironment = Effect.gen(function*() {
  const issuer = yield* Config.option(Config.string("IDENTITYSERVER_ISSUER"))
  const tokenEndpoint = yield* Config.option(Config.string("IDENTITYSERVER_TOKEN_ENDPOINT"))
  if (Option.isNone(issuer) && Option.isNone(tokenEndpoint)) return Option.none<Settings>()
  const client = yield* ClientCredentialsClient.config("IDENTITYSERVER")
  const apiBaseUrl = yield* Config.string("API_BASE_URL")
  return Option.some<Settings>({ client, apiBaseUrl })
})

/** Settings pointing at a token server and an API started in this process, for as long as the scope lasts. */
const embedded: Effect.Effect<Settings, never, Scope.Scope> = Effect.gen(function*() {
  const server = yield* TokenServer.make()
  const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
  const [client] = server.clients
  yield* Effect.logInfo(`Embedded token server at ${server.issuer}, API at ${api.baseUrl}`)
  return {
    client: {
      issuer: server.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      scope: "api"
    },
    apiBaseUrl: api.baseUrl
  }
})

/** The program's `HttpClient`: authenticated with tokens of the client "identityserver". */
const ApiClientLive = Layer.unwrapScoped(
  Effect.gen(function*() {
    const settings = yield* Effect.flatMap(
      fromEnvironment,
      Option.match({ onNone: () => embedded, onSome: Effect.succeed })
    )
    const tokens = TokenService.layerDefault({ clients: { identityserver: settings.client } }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
    return AccessTokenHttpClient.layer({ client: "identityserver", baseUrl: settings.apiBaseUrl }).pipe(
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
