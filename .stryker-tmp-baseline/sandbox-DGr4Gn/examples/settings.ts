/**
 * Where the worker examples (`worker.ts`, `readiness.ts`) get tokens and which API they call: the
 * token service and API of the environment when one is configured there, otherwise a token server
 * and an API started in the process, on loopback.
 *
 * From the environment: `IDENTITYSERVER_ISSUER` (or `IDENTITYSERVER_TOKEN_ENDPOINT`),
 * `IDENTITYSERVER_CLIENT_ID`, `IDENTITYSERVER_CLIENT_SECRET`, `IDENTITYSERVER_SCOPE` and
 * `API_BASE_URL`; given the issuer, the token endpoint is found in the issuer's metadata.
 */
// @ts-nocheck

import { ClientCredentialsClient } from "@access-token/core"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { Config, type ConfigError, Effect, Option, type Scope } from "effect"

/** Where the worker gets tokens and which API it calls. */
export interface Settings {
  readonly client: ClientCredentialsClient.Input
  readonly apiBaseUrl: string
}

/** Settings from the environment, when an issuer or a token endpoint is configured there. */
export const fromEnvironment = Effect.gen(function*() {
  const issuer = yield* Config.option(Config.string("IDENTITYSERVER_ISSUER"))
  const tokenEndpoint = yield* Config.option(Config.string("IDENTITYSERVER_TOKEN_ENDPOINT"))
  if (Option.isNone(issuer) && Option.isNone(tokenEndpoint)) return Option.none<Settings>()
  const client = yield* ClientCredentialsClient.config("IDENTITYSERVER")
  const apiBaseUrl = yield* Config.string("API_BASE_URL")
  return Option.some<Settings>({ client, apiBaseUrl })
})

/** Settings pointing at a token server and an API started in this process, for as long as the scope lasts. */
export const embedded: Effect.Effect<Settings, never, Scope.Scope> = Effect.gen(function*() {
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

/** The environment's settings, or the embedded ones for as long as the scope lasts. */
export const settings: Effect.Effect<Settings, ConfigError.ConfigError, Scope.Scope> = Effect.flatMap(
  fromEnvironment,
  Option.match({ onNone: () => embedded, onSome: Effect.succeed })
)
