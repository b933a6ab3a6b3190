/**
 * Asks a token endpoint for an access token with the client credentials grant (RFC 6749 §4.4),
 * retrying what can be retried on a `Schedule`.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as AccessToken from "./AccessToken.js"
import * as AuthorizationServerMetadata from "./AuthorizationServerMetadata.js"
import type * as ClientCredentialsClient from "./ClientCredentialsClient.js"
import * as DPoPNonce from "./DPoPNonce.js"
import { targetOf } from "./internal/discovery.js"
import { NonceStore } from "./internal/dpopNonce.js"
import { tokenAttempt } from "./internal/dpopProof.js"
import { mtlsTarget, transportFor } from "./internal/mutualTls.js"
import * as requestDefaults from "./internal/requestDefaults.js"
import { encodeAttempt, resolve, type Target as TokenRequestTarget } from "./internal/tokenRequest.js"
import { exchange } from "./internal/tokenResponse.js"
import { withSpanWithoutValue } from "./internal/tracing.js"
import * as MutualTls from "./MutualTls.js"
import { ClientConfigurationError, isRetryable, type TokenEndpointError } from "./TokenError.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenEndpointClient extends Context.Tag("@access-token/core/TokenEndpointClient")<
  TokenEndpointClient,
  TokenEndpointClient.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenEndpointClient {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Requests a token for `client`; `parameters` replace the client's own scope and resource for
     * this request, and add to (or override) its extra parameters. `TokenService` passes them
     * already resolved against the client (and validated), with every value in place.
     */
    readonly requestToken: (
      client: ClientCredentialsClient.ClientCredentialsClient,
      parameters?: RequestParameters,
      /**
       * Where the request goes. `TokenService` gives it for a client configured by issuer, from the
       * metadata it keeps; without it the client's `tokenEndpoint` is used, or its issuer's metadata
       * is retrieved for this request alone.
       */
      target?: Target
    ) => Effect.Effect<AccessToken.AccessToken, TokenEndpointError>
    /**
     * Retrieves an issuer's authorization server metadata with the rules of token requests (size
     * cap, timeout, no redirects, the retry policy); `TokenService` keeps what it returns.
     *
     * @since 0.2.0
     */
    readonly discover: AuthorizationServerMetadata.Discover
  }
}

/**
 * Where a token request goes: the token endpoint and, for a client configured by issuer, the issuer
 * and its metadata.
 *
 * @since 0.2.0
 * @category models
 */
export type Target = TokenRequestTarget

/**
 * What one request may ask for instead of the client's defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestParameters {
  readonly scope?: string | undefined
  readonly resource?: string | ReadonlyArray<string> | undefined
  readonly parameters?: Readonly<Record<string, string>> | undefined
}

/**
 * A retry policy for the token endpoint. It sees each failure as its input, so it can be narrowed
 * with `Schedule.whileInput`; failures that no retry can fix are never retried whatever it says.
 *
 * @since 0.1.0
 * @category models
 */
export type RetrySchedule = Schedule.Schedule<unknown, TokenEndpointError>

/**
 * The default retry policy: exponential backoff from 200 ms with jitter, at most 3 retries (4
 * attempts), and no retry decided more than 10 s after the first failure.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetrySchedule: RetrySchedule = requestDefaults.retrySchedule

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultRequestTimeout: Duration.Duration = requestDefaults.requestTimeout

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxResponseBytes: number = requestDefaults.maxResponseBytes

/**
 * The longest wait a `Retry-After` header can impose on one retry.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxRetryAfter: Duration.Duration = Duration.seconds(60)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one attempt (connect, send, read the body) may take; default 30 s. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The largest response body read; default 1 MiB. */
  readonly maxResponseBytes?: number | undefined
  /** The retry policy for every client; default {@link defaultRetrySchedule}. */
  readonly retrySchedule?: RetrySchedule | undefined
  /** Retry policies for some clients, by client name, in place of `retrySchedule`. */
  readonly clientRetrySchedules?: Readonly<Record<string, RetrySchedule>> | undefined
  /** The longest `Retry-After` honoured; default 60 s. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /**
   * The well-known metadata locations tried for a client configured by issuer, in order; default
   * `AuthorizationServerMetadata.defaultOrder` (RFC 8414, then OpenID Connect Discovery).
   */
  readonly metadataOrder?: ReadonlyArray<AuthorizationServerMetadata.WellKnown> | undefined
}

const retryAfterOf = (error: TokenEndpointError): Duration.Duration | undefined =>
  error._tag === "TokenRefusedError" || error._tag === "InvalidTokenResponseError" ? error.retryAfter : undefined

/**
 * Completes a retry policy: only retryable failures are retried, and a `Retry-After` from the
 * server lengthens the wait to what it asks, up to `maxRetryAfter`.
 *
 * @example
 * ```ts
 * import { TokenEndpointClient, TokenError } from "@access-token/core"
 * import { Duration, Effect, Schedule } from "effect"
 *
 * // The rules TokenEndpointClient applies to its retrySchedule, for a call of your own: refusals are
 * // never retried, and a Retry-After of up to 30 s lengthens the wait.
 * const policy = TokenEndpointClient.withRetryPolicy(
 *   Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(5))),
 *   Duration.seconds(30)
 * )
 * const retried = <A>(attempt: Effect.Effect<A, TokenError.TokenEndpointError>) => Effect.retry(attempt, policy)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetryPolicy = (
  schedule: RetrySchedule,
  maxRetryAfter: Duration.Duration
): Schedule.Schedule<unknown, TokenEndpointError> =>
  schedule.pipe(
    Schedule.intersect(Schedule.identity<TokenEndpointError>()),
    Schedule.modifyDelay(([, error], delay) => {
      const retryAfter = retryAfterOf(error)
      return retryAfter === undefined ? delay : Duration.max(delay, Duration.min(retryAfter, maxRetryAfter))
    }),
    Schedule.whileInput(isRetryable)
  )

/**
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenEndpointClient } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * // One token, straight from the token endpoint: no cache, no coalescing (TokenService does that).
 * const program = Effect.gen(function*() {
 *   const endpoint = yield* TokenEndpointClient.make({ requestTimeout: "5 seconds" })
 *   const client = yield* ClientCredentialsClient.make({
 *     tokenEndpoint: "https://auth.example.com/token",
 *     clientId: "m2m",
 *     clientSecret: Redacted.make("secret")
 *   })
 *   return yield* endpoint.requestToken(client, { scope: "api" })
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<TokenEndpointClient.Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    // Each attempt runs in a scope of its own (`Effect.scoped` below): when it ends, however it
    // ends, the request and any body left unread are aborted, not left to the garbage collector.
    const httpClient = HttpClient.withScope(yield* HttpClient.HttpClient)
    const transportOf = transportFor(httpClient, yield* Effect.serviceOption(MutualTls.MutualTls))
    const timeout = Duration.decode(options?.requestTimeout ?? defaultRequestTimeout)
    const maxBytes = options?.maxResponseBytes ?? defaultMaxResponseBytes
    const maxRetryAfter = Duration.decode(options?.maxRetryAfter ?? defaultMaxRetryAfter)
    const defaultPolicy = withRetryPolicy(options?.retrySchedule ?? defaultRetrySchedule, maxRetryAfter)
    const clientPolicies = new Map(
      Object.entries(options?.clientRetrySchedules ?? {}).map(([name, schedule]) => [
        name,
        withRetryPolicy(schedule, maxRetryAfter)
      ])
    )

    // The nonces of DPoP servers by origin, from every answer (RFC 9449 §8).
    const nonces = new NonceStore(DPoPNonce.defaultCapacity)

    const send = exchange({ timeout, maxBytes, nonces })

    // Metadata is read like a token response, and retried on the same policy. The https rule is each
    // client's: its issuer is checked when it is made, the token endpoint found on every attempt.
    const discover = yield* AuthorizationServerMetadata.make({
      order: options?.metadataOrder,
      requestTimeout: timeout,
      maxResponseBytes: maxBytes,
      retrySchedule: options?.retrySchedule ?? defaultRetrySchedule,
      allowInsecureTransport: true
    })

    const requestToken = (
      client: ClientCredentialsClient.ClientCredentialsClient,
      parameters?: RequestParameters,
      given?: Target
    ): Effect.Effect<AccessToken.AccessToken, TokenEndpointError> => {
      const request = resolve(client, parameters)
      if (Either.isLeft(request)) return Effect.fail(request.left)
      const issuer = client.issuer
      if (given === undefined && client.tokenEndpoint === undefined && issuer !== undefined) {
        return Effect.flatMap(
          discover(issuer),
          (discovered) =>
            Either.match(targetOf(client, issuer, discovered), {
              onLeft: Effect.fail,
              onRight: (target) => requestToken(client, request.right, target)
            })
        )
      }
      const tokenEndpoint = given?.tokenEndpoint ?? client.tokenEndpoint
      if (tokenEndpoint === undefined) {
        return Effect.fail(
          new ClientConfigurationError({ client: client.name, field: "tokenEndpoint", reason: "or issuer is required" })
        )
      }
      const target: Target = mtlsTarget(client, given ?? { tokenEndpoint })
      const transport = transportOf(client)
      if (Either.isLeft(transport)) return Effect.fail(transport.left)
      const url = new URL(target.tokenEndpoint)
      const endpoint = `${url.origin}${url.pathname}`
      // Each attempt encodes its request afresh: what proves the client's identity may be good for
      // one attempt only.
      return tokenAttempt(
        client,
        target.tokenEndpoint,
        nonces,
        encodeAttempt(client, request.right, target),
        (httpRequest) => send(client, httpRequest, endpoint, transport.right)
      ).pipe(
        Effect.retry(clientPolicies.get(client.name) ?? defaultPolicy),
        Effect.tapBoth({
          onFailure: (error) => Effect.annotateCurrentSpan("outcome", error._tag),
          onSuccess: () => Effect.annotateCurrentSpan("outcome", "success")
        }),
        withSpanWithoutValue("TokenEndpointClient.requestToken", {
          kind: "client",
          attributes: {
            "oauth.client.name": client.name,
            "server.address": url.hostname,
            "url.path": url.pathname
          }
        })
      )
    }

    return TokenEndpointClient.of({ requestToken, discover })
  })

/**
 * The token endpoint client on the `HttpClient` of the context.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenError, TokenService } from "@access-token/core"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Schedule } from "effect"
 *
 * const Endpoint = TokenEndpointClient.layer({
 *   requestTimeout: "10 seconds",
 *   // Up to 6 retries for every client, a slow legacy server given more patience.
 *   retrySchedule: Schedule.exponential("250 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(6))),
 *   clientRetrySchedules: {
 *     legacy: Schedule.spaced("5 seconds").pipe(
 *       Schedule.intersect(Schedule.recurs(3)),
 *       Schedule.whileInput((error: TokenError.TokenEndpointError) => error._tag === "TokenTransportError")
 *     )
 *   }
 * })
 *
 * const Tokens = TokenService.layerConfig({
 *   clients: { api: ClientCredentialsClient.config("API"), legacy: ClientCredentialsClient.config("LEGACY") }
 * }).pipe(
 *   Layer.provide([Endpoint, TokenCache.layerMemory()]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TokenEndpointClient, never, HttpClient.HttpClient> =>
  Layer.effect(TokenEndpointClient, make(options))

/**
 * A token endpoint client that answers from functions, for tests of code that needs tokens. Without
 * `discover`, a client configured by issuer fails with `MetadataUnavailableError`.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache, TokenEndpointClient, TokenError, TokenService } from "@access-token/core"
 * import { DateTime, Effect, Exit, Layer } from "effect"
 *
 * // A token endpoint for the tests of your own code: tokens for "api", a refusal for anyone else.
 * const Endpoint = TokenEndpointClient.layerTest((client, parameters) =>
 *   client.name === "api"
 *     ? Effect.map(DateTime.now, (receivedAt) =>
 *       AccessToken.make({ value: "test-token", receivedAt, expiresIn: "1 hour", scope: parameters?.scope }))
 *     : Effect.fail(new TokenError.TokenRefusedError({ client: client.name, status: 401, error: "invalid_client" }))
 * )
 *
 * const Tokens = TokenService.layer({
 *   clients: {
 *     api: { tokenEndpoint: "https://auth.example.com/token", clientId: "api", authentication: "none" },
 *     other: { tokenEndpoint: "https://auth.example.com/token", clientId: "other", authentication: "none" }
 *   }
 * }).pipe(Layer.provide([Endpoint, TokenCache.layerMemory()]))
 *
 * const program = Effect.gen(function*() {
 *   const token = yield* TokenService.getToken("api", { scope: "read" })
 *   assert.strictEqual(token.authorization, "Bearer test-token")
 *   assert.strictEqual(token.scope, "read")
 *   assert.ok(Exit.isFailure(yield* Effect.exit(TokenService.getToken("other"))))
 * })
 *
 * Effect.runPromise(Effect.provide(program, Tokens))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  requestToken: TokenEndpointClient.Service["requestToken"],
  discover: TokenEndpointClient.Service["discover"] = (issuer) =>
    Effect.fail(
      new AuthorizationServerMetadata.MetadataUnavailableError({
        issuer,
        reason: "Transport",
        locations: [],
        description: "TokenEndpointClient.layerTest was given no metadata"
      })
    )
): Layer.Layer<TokenEndpointClient> =>
  Layer.succeed(TokenEndpointClient, TokenEndpointClient.of({ requestToken, discover }))
