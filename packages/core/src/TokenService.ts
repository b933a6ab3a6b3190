/**
 * The main entry point: named clients, each token cached until shortly before it expires, one
 * token request per token whatever the concurrency, and renewal in the background ahead of expiry
 * so that callers rarely wait.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "./AccessToken.js"
import type * as AuthorizationServerMetadata from "./AuthorizationServerMetadata.js"
import type * as ClientCredentialsClient from "./ClientCredentialsClient.js"
import * as internal from "./internal/tokenService.js"
import * as TokenCache from "./TokenCache.js"
import * as TokenEndpointClient from "./TokenEndpointClient.js"
import type { ClientConfigurationError, TokenError, TokenRefusedError, UnknownClientError } from "./TokenError.js"
import type * as TokenReadiness from "./TokenReadiness.js"

/**
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * // A call to an API of your own that renews the token once when the API rejects it.
 * const callApi = (send: (authorization: string) => Effect.Effect<Response>) =>
 *   Effect.gen(function*() {
 *     const tokens = yield* TokenService.TokenService
 *     const token = yield* tokens.getToken("billing")
 *     const response = yield* send(token.authorization)
 *     if (response.status !== 401) return response
 *     // Many 401s for one token cause one renewal: `rejected` renews only if it is still current.
 *     const renewed = yield* tokens.getToken("billing", { rejected: token })
 *     return yield* send(renewed.authorization)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenService extends Context.Tag("@access-token/core/TokenService")<
  TokenService,
  TokenService.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenService {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The names of the registered clients. */
    readonly clients: ReadonlyArray<string>
    /**
     * The state of every client's tokens, for a readiness probe or a dashboard. Reading it costs
     * the acquisitions nothing.
     *
     * @since 0.2.0
     */
    readonly readiness: Effect.Effect<TokenReadiness.Readiness>
    /**
     * The definition of `client` as registered (name resolved as `getToken` does), for code that
     * must act as the client does, such as signing DPoP proofs with its key. Its secrets stay
     * `Redacted`.
     *
     * @since 0.2.0
     */
    readonly client: (
      client?: string
    ) => Effect.Effect<ClientCredentialsClient.ClientCredentialsClient, UnknownClientError>
    /**
     * A token for `client` (which may be omitted when exactly one client is registered): the
     * cached one while it is fresh, otherwise a new one, requested once for all concurrent
     * callers.
     */
    readonly getToken: (client?: string, parameters?: GetTokenParameters) => Effect.Effect<AccessToken, TokenError>
    /**
     * Drops `client`: every token the service holds for it, in process and in the `TokenCache`, and,
     * for a client found by `resolveClient`, its definition, so that the next call resolves it again
     * (a tenant that left, a credential rotated out of band). A registered client keeps its
     * definition. Dropping a client the service does not hold does nothing.
     *
     * @since 0.2.0
     */
    readonly drop: (client: string) => Effect.Effect<void>
    /** Forgets the cached token, in process and in the `TokenCache`. */
    readonly invalidate: (
      client?: string,
      parameters?: TokenEndpointClient.RequestParameters
    ) => Effect.Effect<void, UnknownClientError>
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetTokenParameters extends TokenEndpointClient.RequestParameters {
  /**
   * Requests a new token even if a fresh one is cached. A request already under way for the same
   * token is joined rather than doubled.
   */
  readonly forceRenewal?: boolean | undefined
  /**
   * The token a resource server rejected: a new token is requested unless the cached one has
   * already replaced it, so that many rejections of one token cause one renewal.
   */
  readonly rejected?: AccessToken | undefined
}

/**
 * When a token enters its refresh window: the last `fraction` of its usable lifetime, or a fixed
 * `margin` before it counts as expired.
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshWindow =
  | { readonly fraction: number }
  | { readonly margin: Duration.DurationInput }

/**
 * What one client is registered with: its definition, with optional lifetime settings of its own.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientInput = ClientCredentialsClient.Input | ClientCredentialsClient.ClientCredentialsClient

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The clients, by unique name. */
  readonly clients: Readonly<Record<string, ClientInput>>
  /**
   * Resolves a client name that is not among `clients` into its definition (from a database, a
   * secret manager, a tenant service), for clients added while the service runs. Its failure is a
   * `ClientResolutionError` and is not kept: the next call resolves again. Definitions are kept for
   * `resolvedClientTimeToLive`, at most `resolvedClientCapacity` of them, and concurrent calls for
   * one name share one resolution. A resolved client refused with `invalid_client` is resolved
   * again once: if its definition changed (a rotated secret), the old one and its tokens are dropped
   * and the token is requested with the new one.
   *
   * @since 0.2.0
   */
  readonly resolveClient?: ((name: string) => Effect.Effect<ClientInput, unknown>) | undefined
  /**
   * How many resolved client definitions are kept (default {@link defaultResolvedClientCapacity}).
   *
   * @since 0.2.0
   */
  readonly resolvedClientCapacity?: number | undefined
  /**
   * How long a resolved client definition is used before it is resolved again (default
   * {@link defaultResolvedClientTimeToLive}).
   *
   * @since 0.2.0
   */
  readonly resolvedClientTimeToLive?: Duration.DurationInput | undefined
  /**
   * How long before its expiry a token counts as expired (default 60 s), counted from the expiry less
   * the second a server's whole-second `exp` may take off. For a short-lived token it is capped at a
   * quarter of what is left, so that the token is still cached; a 1 s token has nothing left and goes
   * only to the callers that waited for its request. A client may set its own.
   */
  readonly expirationBuffer?: Duration.DurationInput | undefined
  /** How long a token sent without `expires_in` is used (default 5 minutes). A client may set its own. */
  readonly defaultLifetime?: Duration.DurationInput | undefined
  /** When a token is renewed in the background (default: the last third of its usable lifetime). */
  readonly refreshWindow?: RefreshWindow | undefined
  /**
   * How a failed background renewal is tried again while the current token is still usable
   * (default {@link defaultRefreshRetrySchedule}).
   */
  readonly refreshRetrySchedule?: Schedule.Schedule<unknown, TokenError> | undefined
  /** How many distinct tokens are kept in process (default 10,000). */
  readonly capacity?: number | undefined
  /**
   * How many token requests may be under way at once to one token endpoint (to one issuer, for
   * clients configured by issuer), whatever the number of clients (default
   * {@link defaultMaxConcurrentRequests}). Further requests queue; their wait shows in
   * {@link tokenRequestWait}, and a caller waiting may be interrupted.
   */
  readonly maxConcurrentRequests?: number | undefined
  /**
   * How long one `TokenCache` operation may take (default {@link defaultCacheTimeout}). One that
   * takes longer, fails or dies is a cache failure: the token is requested as if it were not
   * cached, and the acquisition does not fail.
   */
  readonly cacheTimeout?: Duration.DurationInput | undefined
  /**
   * Acquires the own tokens of these clients (`true`: of every client) while the service is built,
   * concurrently, so that the first call finds them cached. A failure is logged and retried in the
   * background on `refreshRetrySchedule` until a token arrives; see `failFast`.
   */
  readonly warmUp?: boolean | ReadonlyArray<string> | undefined
  /**
   * With `warmUp`: a failure that no retry can fix (a refusal such as `invalid_client` or
   * `unauthorized_client`, or an invalid configuration) fails the build with that error, so that the
   * process stops at start. Transient failures (transport, `5xx`, `429`) never fail it.
   */
  readonly failFast?: boolean | undefined
  /**
   * How long the metadata of an issuer (for clients configured by issuer) is used before it is
   * refreshed in the background: the server's `Cache-Control: max-age` within bounds, or a default
   * (see `AuthorizationServerMetadata.defaultRefreshInterval`: 1 hour, within 1 minute to 1 day).
   */
  readonly metadataRefreshInterval?: AuthorizationServerMetadata.RefreshInterval | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultExpirationBuffer: Duration.Duration = Duration.seconds(60)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultLifetime: Duration.Duration = Duration.minutes(5)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultRefreshWindow: RefreshWindow = { fraction: 1 / 3 }

/**
 * Retries of a failed background renewal: exponential from 1 s, capped at 30 s between tries,
 * for as long as the current token is usable.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRefreshRetrySchedule: Schedule.Schedule<unknown, TokenError> = Schedule.exponential("1 second")
  .pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(30)))
  )

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultCapacity = 10_000

/**
 * The default number of client definitions found by `resolveClient` that are kept.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultResolvedClientCapacity = 10_000

/**
 * The default time a client definition found by `resolveClient` is used before it is resolved
 * again: a definition changed at its source (a rotated secret) reaches the service within it, and
 * at once on an `invalid_client` refusal.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultResolvedClientTimeToLive: Duration.Duration = Duration.minutes(5)

/**
 * The default bound of one `TokenCache` operation: a shared cache answers in milliseconds, and a
 * token request costs less than waiting longer.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultCacheTimeout: Duration.Duration = Duration.millis(500)

/**
 * The default bound of concurrent token requests per token endpoint: enough for a cold start of
 * many clients to proceed quickly, few enough that no authorization server sees a flood.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxConcurrentRequests = 16

/**
 * Local cache hits, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cacheHits = Metric.counter("access_token_cache_hits", {
  description: "Tokens served from the in-process cache",
  incremental: true
})

/**
 * Acquisitions that went past the in-process cache, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cacheMisses = Metric.counter("access_token_cache_misses", {
  description: "Token acquisitions that went past the in-process cache",
  incremental: true
})

/**
 * Requests made to the token endpoint, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequests = Metric.counter("access_token_token_requests", {
  description: "Token requests sent to the token endpoint",
  incremental: true
})

/**
 * How long each token request waited for its turn under `maxConcurrentRequests`, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tokenRequestWait = Metric.timer(
  "access_token_token_request_wait",
  "How long token requests waited for their turn at the token endpoint (maxConcurrentRequests)"
)

/**
 * Token requests that failed after their retries, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequestFailures = Metric.counter("access_token_token_request_failures", {
  description: "Token requests that failed after all retries",
  incremental: true
})

/**
 * Renewals forced by a caller (for example after a `401`), by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const forcedRenewals = Metric.counter("access_token_forced_renewals", {
  description: "Token renewals forced by a caller, such as after a 401",
  incremental: true
})

/**
 * `TokenCache` operations that failed, died or took too long, by client: each was treated as a
 * miss. The log says when the cache stops answering and when it is back, not at every failure.
 *
 * @since 0.2.0
 * @category metrics
 */
export const cacheFailures = Metric.counter("access_token_cache_failures", {
  description: "Token cache operations that failed, died or timed out, each treated as a miss",
  incremental: true
})

/**
 * Builds the token service on the `TokenEndpointClient` and `TokenCache` of the context; its
 * background renewals run in the scope. Client definitions are checked here.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { DateTime, Effect, Layer, Redacted } from "effect"
 *
 * // A token endpoint that counts its requests, in place of the real one.
 * let requests = 0
 * const Endpoint = TokenEndpointClient.layerTest(() =>
 *   Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value: `token-${++requests}`, receivedAt, expiresIn: "1 hour" }))
 * )
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const tokens = yield* TokenService.make({
 *       clients: { api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("s") } }
 *     })
 *     const first = yield* tokens.getToken("api")
 *     const second = yield* tokens.getToken("api")
 *     assert.strictEqual(second, first)
 *     assert.strictEqual(requests, 1)
 *   })
 * )
 *
 * Effect.runPromise(Effect.provide(program, Layer.merge(Endpoint, TokenCache.layerMemory())))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<
  TokenService.Service,
  ClientConfigurationError | TokenRefusedError,
  TokenEndpointClient.TokenEndpointClient | TokenCache.TokenCache | Scope.Scope
> => internal.make(options)

/**
 * The token service, on the `TokenEndpointClient` and `TokenCache` of the context. Client
 * definitions are checked when the layer is built.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { DateTime, Effect, Layer, Redacted } from "effect"
 *
 * // A token endpoint that counts its requests, in place of the real one.
 * let requests = 0
 * const Endpoint = TokenEndpointClient.layerTest(() =>
 *   Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value: `token-${++requests}`, receivedAt, expiresIn: "1 hour" }))
 * )
 *
 * const Tokens = TokenService.layer({
 *   clients: {
 *     billing: { tokenEndpoint: "https://auth.example.com/token", clientId: "billing", clientSecret: Redacted.make("s1") },
 *     reports: { tokenEndpoint: "https://auth.example.com/token", clientId: "reports", clientSecret: Redacted.make("s2") }
 *   },
 *   expirationBuffer: "2 minutes"
 * }).pipe(Layer.provide([Endpoint, TokenCache.layerMemory()]))
 *
 * // Ten callers at once, one token request per client.
 * const program = Effect.all(
 *   Array.from({ length: 10 }, (_, i) => TokenService.getToken(i % 2 === 0 ? "billing" : "reports")),
 *   { concurrency: "unbounded" }
 * ).pipe(Effect.tap(() => assert.strictEqual(requests, 2)))
 *
 * Effect.runPromise(Effect.provide(program, Tokens))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  TokenService,
  ClientConfigurationError | TokenRefusedError,
  TokenEndpointClient.TokenEndpointClient | TokenCache.TokenCache
> => Layer.scoped(TokenService, make(options))

/**
 * The token service with its options read from configuration, for example
 * `layerConfig({ clients: { identityserver: ClientCredentialsClient.config("IDENTITYSERVER") } })`.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 *
 * // IDENTITYSERVER_TOKEN_ENDPOINT, IDENTITYSERVER_CLIENT_ID, IDENTITYSERVER_CLIENT_SECRET, IDENTITYSERVER_SCOPE, ...
 * const Tokens = TokenService.layerConfig({
 *   clients: { identityserver: ClientCredentialsClient.config("IDENTITYSERVER") },
 *   expirationBuffer: Config.duration("TOKEN_EXPIRATION_BUFFER").pipe(Config.withDefault("1 minute"))
 * }).pipe(
 *   Layer.provide([TokenEndpointClient.layer({ requestTimeout: "10 seconds" }), TokenCache.layerMemory()]),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<
  TokenService,
  ClientConfigurationError | TokenRefusedError | ConfigError.ConfigError,
  TokenEndpointClient.TokenEndpointClient | TokenCache.TokenCache
> => Layer.scoped(TokenService, Effect.flatMap(Config.unwrap(options), make))

/**
 * The token service wired with the default `TokenEndpointClient` and an in-memory `TokenCache`, so
 * that it needs only an `HttpClient`. To share tokens between replicas, or to set the endpoint
 * client's timeouts and retries, use {@link layer} with the `TokenCache` and `TokenEndpointClient`
 * layers of your choice.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 *
 * const Tokens = TokenService.layerDefault({
 *   clients: {
 *     api: {
 *       tokenEndpoint: "https://auth.example.com/token",
 *       clientId: "m2m",
 *       clientSecret: Redacted.make("secret"),
 *       scope: "api.read api.write"
 *     }
 *   }
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDefault = (
  options: Options
): Layer.Layer<TokenService, ClientConfigurationError | TokenRefusedError, HttpClient.HttpClient> =>
  layer(options).pipe(Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]))

/**
 * {@link layerConfig} wired as {@link layerDefault}: options from configuration, the default
 * `TokenEndpointClient` and an in-memory `TokenCache`, on an `HttpClient`.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenService } from "@access-token/core"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * // BILLING_* and REPORTS_* from the environment
 * const Tokens = TokenService.layerConfigDefault({
 *   clients: { billing: ClientCredentialsClient.config("BILLING"), reports: ClientCredentialsClient.config("REPORTS") }
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfigDefault = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<
  TokenService,
  ClientConfigurationError | TokenRefusedError | ConfigError.ConfigError,
  HttpClient.HttpClient
> => layerConfig(options).pipe(Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]))

/**
 * A token for `client`, from the `TokenService` of the context.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   // The client's own scope and resources...
 *   const token = yield* TokenService.getToken("api")
 *   // ...or others for this call, cached apart from the client's.
 *   const admin = yield* TokenService.getToken("api", { scope: "admin", resource: "https://admin.example.com" })
 *   return [token.authorization, admin.authorization]
 * })
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const getToken = (
  client?: string,
  parameters?: GetTokenParameters
): Effect.Effect<AccessToken, TokenError, TokenService> =>
  Effect.flatMap(TokenService, (service) => service.getToken(client, parameters))

/**
 * The state of every client's tokens, from the `TokenService` of the context.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * // For a readiness probe: the state of every client's tokens, at no cost to the acquisitions.
 * const probe = Effect.map(TokenService.readiness, (readiness) => JSON.stringify(readiness))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const readiness: Effect.Effect<TokenReadiness.Readiness, never, TokenService> = Effect.flatMap(
  TokenService,
  (service) => service.readiness
)

/**
 * Drops `client`'s tokens (in process and in the `TokenCache`) and, for a client found by
 * `resolveClient`, its definition, through the `TokenService` of the context.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * // A tenant left: nothing of it stays in the service or in the shared cache.
 * const offboard = (tenant: string) => TokenService.drop(tenant).pipe(Effect.tap(() => Effect.log(`dropped ${tenant}`)))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const drop = (client: string): Effect.Effect<void, never, TokenService> =>
  Effect.flatMap(TokenService, (service) => service.drop(client))

/**
 * Forgets the cached token of `client`, through the `TokenService` of the context.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { DateTime, Effect, Layer, Redacted } from "effect"
 *
 * let requests = 0
 * const Tokens = TokenService.layer({
 *   clients: { api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("s") } }
 * }).pipe(
 *   Layer.provide([
 *     TokenEndpointClient.layerTest(() =>
 *       Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value: `t${++requests}`, receivedAt, expiresIn: "1 hour" }))
 *     ),
 *     TokenCache.layerMemory()
 *   ])
 * )
 *
 * // After the client's permissions changed at the server: the next call asks for a new token.
 * const program = Effect.gen(function*() {
 *   yield* TokenService.getToken("api")
 *   yield* TokenService.invalidate("api")
 *   const token = yield* TokenService.getToken("api")
 *   assert.strictEqual(token.authorization, "Bearer t2")
 * })
 *
 * Effect.runPromise(Effect.provide(program, Tokens))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const invalidate = (
  client?: string,
  parameters?: TokenEndpointClient.RequestParameters
): Effect.Effect<void, UnknownClientError, TokenService> =>
  Effect.flatMap(TokenService, (service) => service.invalidate(client, parameters))
