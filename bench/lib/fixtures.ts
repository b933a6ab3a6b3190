/**
 * What several scenarios share: a token service answering from a fixed token, the HTTP request
 * they time, a tracer that counts spans.
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import type { HttpClient, HttpClientError } from "@effect/platform"
import { Context, DateTime, Effect, Layer, Redacted, type Scope, Tracer } from "effect"

/** A token value the size of a typical JWT access token (about 800 characters). */
export const tokenValue = (seed: string): string => {
  const unit = `bench.${seed}.`
  return unit.repeat(Math.ceil(800 / unit.length)).slice(0, 800)
}

/** A client definition whose token endpoint is never called (tokens come from `layerTest`). */
export const offlineClient = {
  tokenEndpoint: "http://127.0.0.1:9/token",
  clientId: "bench",
  clientSecret: Redacted.make("bench-secret"),
  scope: "api"
} as const

/**
 * A `TokenService` with the given clients whose token endpoint hands out `value` (valid for an
 * hour) without any I/O, with the default in-memory `TokenCache`.
 */
export const fixedTokenService = (
  options: TokenService.Options,
  value: (client: string, parameters: TokenEndpointClient.RequestParameters | undefined) => string
): Effect.Effect<TokenService.TokenService.Service, never, Scope.Scope> =>
  Layer.build(
    TokenService.layer(options).pipe(
      Layer.provide([
        TokenEndpointClient.layerTest((client, parameters) =>
          Effect.map(DateTime.now, (receivedAt) =>
            AccessToken.make({ value: value(client.name, parameters), receivedAt, expiresIn: "1 hour" }))
        ),
        TokenCache.layerMemory()
      ])
    )
  ).pipe(Effect.orDie, Effect.map(Context.get(TokenService.TokenService)))

/** `GET url`, body read, status returned. */
export const getStatus = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  url: string
): Effect.Effect<number, E | HttpClientError.ResponseError, R> =>
  Effect.flatMap(client.get(url), (response) => Effect.as(response.arrayBuffer, response.status))

/** A tracer that creates the current tracer's spans and counts them. */
export const countingTracer: Effect.Effect<{ readonly tracer: Tracer.Tracer; readonly spans: () => number }> = Effect
  .map(Effect.tracer, (inner) => {
    let spans = 0
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        spans++
        return inner.span(name, parent, context, links, startTime, kind, options)
      },
      context: (f, fiber) => inner.context(f, fiber)
    })
    return { tracer, spans: () => spans }
  })
