/**
 * The embedded OAuth 2.0 server and the clients that talk to it, as the scenarios build them.
 */
import { type ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import type { TokenServer } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import * as Undici from "@effect/platform-node/Undici"
import { Context, Effect, Layer, type Scope } from "effect"

/** The definition of the server's `index`th client, with scope `api`. */
export const clientOf = (server: TokenServer.TokenServer.Service, index = 0): ClientCredentialsClient.Input => {
  const client = server.clients[index]
  return {
    tokenEndpoint: server.tokenEndpoint,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    scope: "api"
  }
}

/**
 * A token service for `clients` that talks to the token endpoint over its own undici client,
 * built for the length of the scope.
 */
export const tokenService = (
  options: TokenService.Options,
  wrapEndpoint: (
    endpoint: TokenEndpointClient.TokenEndpointClient.Service
  ) => TokenEndpointClient.TokenEndpointClient.Service = (endpoint) => endpoint
): Effect.Effect<TokenService.TokenService.Service, never, Scope.Scope> => {
  const endpoint = Layer.effect(
    TokenEndpointClient.TokenEndpointClient,
    Effect.map(TokenEndpointClient.make(), wrapEndpoint)
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))
  return Layer.build(
    TokenService.layer(options).pipe(Layer.provide([endpoint, TokenCache.layerMemory()]))
  ).pipe(Effect.orDie, Effect.map(Context.get(TokenService.TokenService)))
}

/**
 * An undici `HttpClient` whose agent opens at most `connections` sockets per origin: a herd of ten
 * thousand requests to an API in this very process would otherwise need twenty thousand file
 * descriptors (both ends), past the usual limit.
 */
export const boundedUndici = (connections: number) =>
  NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
    Layer.provide(
      Layer.scoped(
        NodeHttpClient.Dispatcher,
        Effect.acquireRelease(
          Effect.sync(() => new Undici.Agent({ connections })),
          (agent) => Effect.promise(() => agent.destroy())
        )
      )
    )
  )
