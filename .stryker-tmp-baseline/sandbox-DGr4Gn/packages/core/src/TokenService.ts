/**
 * The main entry point: named clients, each token cached until shortly before it expires, one
 * token request per token whatever the concurrency, and renewal in the background ahead of expiry
 * so that callers rarely wait.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "./AccessToken.js"
import type * as AuthorizationServerMetadata from "./AuthorizationServerMetadata.js"
import type * as ClientCredentialsClient from "./ClientCredentialsClient.js"
import type * as ClientResolver from "./ClientResolver.js"
import { load as loadOptions } from "./internal/layerConfig.js"
import * as testService from "./internal/testTokenService.js"
import * as internal from "./internal/tokenService.js"
import type * as LayerConfig from "./LayerConfig.js"
import * as TokenCache from "./TokenCache.js"
import * as TokenEndpointClient from "./TokenEndpointClient.js"
import type { ClientConfigurationError, TokenError, TokenRefusedError, UnknownClientError } from "./TokenError.js"
import type * as TokenLifetime from "./TokenLifetime.js"
import type * as TokenReadiness from "./TokenReadiness.js"
import type * as TokenRequestBound from "./TokenRequestBound.js"

/**
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 * // A call to an API of your own that renews the token once when the API rejects it.
 * const callApi = (send: (authorization: string) => Effect.Effect<Response>) => Effect.gen(function*() {
 *   const token = yield* TokenService.getToken("billing")
 *   const response = yield* send(token.authorization)
 *   if (response.status !== 401) return response
 *   // Many 401s for one token cause one renewal: `rejected` renews only if it is still current.
 *   return yield* send((yield* TokenService.getToken("billing", { rejected: token })).authorization)
 * })
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
 * What one client is registered with: its definition, with optional lifetime settings of its own.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientInput = ClientCredentialsClient.Input | ClientCredentialsClient.ClientCredentialsClient

/**
 * The service's clients and bounds, with the settings of a token's life ({@link TokenLifetime.Options}),
 * of clients found at run time ({@link ClientResolver.Options}), of warm-up ({@link TokenReadiness.Options}),
 * of its cache ({@link TokenCache.Options}) and of its bound on token requests ({@link TokenRequestBound.Options}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options
  extends
    TokenLifetime.Options,
    ClientResolver.Options,
    TokenReadiness.Options,
    TokenCache.Options,
    TokenRequestBound.Options
{
  /** The clients, by unique name. */
  readonly clients: Readonly<Record<string, ClientInput>>
  /** How many distinct tokens are kept in process (default 10,000). */
  readonly capacity?: number | undefined
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
export const defaultCapacity = 10_000

/**
 * The default bound of concurrent token requests per authorization server: enough for a cold start of
 * many clients to proceed quickly, few enough that no authorization server sees a flood.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxConcurrentRequests = 16

/**
 * Builds the token service on the `TokenEndpointClient` and `TokenCache` of the context; its
 * background renewals run in the scope. Client definitions are checked here.
 *
 * @example
 * ```ts
 * import { TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 * // The service as a value, in a program that builds it itself: it lives as long as the scope.
 * const api = { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("s") }
 * const program = Effect.flatMap(TokenService.make({ clients: { api } }), (tokens) => tokens.getToken("api"))
 *   .pipe(Effect.scoped, Effect.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]), Effect.provide(FetchHttpClient.layer))
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
 * The token service on the `TokenEndpointClient` and `TokenCache` of the context; definitions are checked at build.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { DateTime, Effect, Layer, Redacted } from "effect"
 * // A token endpoint that counts its requests, in place of the real one.
 * let requests = 0
 * const Endpoint = TokenEndpointClient.layerTest(() =>
 *   Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value: `t${++requests}`, receivedAt, expiresIn: "1 hour" }))
 * )
 * const client = (clientId: string) => ({ tokenEndpoint: "https://auth.example.com/token", clientId, clientSecret: Redacted.make("s") })
 * const Tokens = TokenService.layer({ clients: { billing: client("billing"), reports: client("reports") } })
 *   .pipe(Layer.provide([Endpoint, TokenCache.layerMemory()]))
 * // Ten callers at once, one token request per client.
 * const names = Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? "billing" : "reports")
 * const program = Effect.forEach(names, (name) => TokenService.getToken(name), { concurrency: "unbounded" })
 * Effect.runPromise(Effect.provide(program, Tokens)).then(() => assert.strictEqual(requests, 2))
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
 * import { Config, Layer } from "effect"
 * // IDENTITYSERVER_TOKEN_ENDPOINT, IDENTITYSERVER_CLIENT_ID, IDENTITYSERVER_CLIENT_SECRET, ...
 * const Tokens = TokenService.layerConfig({
 *   clients: { identityserver: ClientCredentialsClient.config("IDENTITYSERVER") },
 *   expirationBuffer: Config.duration("TOKEN_EXPIRATION_BUFFER").pipe(Config.withDefault("1 minute"))
 * }).pipe(Layer.provide(TokenEndpointClient.layer({ requestTimeout: "10 seconds" })), Layer.provide(TokenCache.layerMemory()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: LayerConfig.Wrap<Options>
): Layer.Layer<
  TokenService,
  ClientConfigurationError | TokenRefusedError | ConfigError.ConfigError,
  TokenEndpointClient.TokenEndpointClient | TokenCache.TokenCache
> => Layer.scoped(TokenService, Effect.flatMap(loadOptions(options), make))

/**
 * The token service with the default `TokenEndpointClient` and an in-memory `TokenCache`: it needs
 * only an `HttpClient`. To share tokens between replicas, or to set the endpoint client's timeouts
 * and retries, use {@link layer} with the `TokenCache` and `TokenEndpointClient` of your choice.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 * const Tokens = TokenService.layerDefault({
 *   clients: { api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("s") } }
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
  options: LayerConfig.Wrap<Options>
): Layer.Layer<
  TokenService,
  ClientConfigurationError | TokenRefusedError | ConfigError.ConfigError,
  HttpClient.HttpClient
> => layerConfig(options).pipe(Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]))

/**
 * A token service for unit tests, with no token endpoint: fixed tokens by client name, or a function of the client
 * name and the request's parameters returning a token (or a `TokenError`). Each `getToken` asks afresh, nothing is
 * cached, every client is ready: `readiness` lists the clients of the record, or those asked for so far (in each
 * build of the layer) with a function, each with its own token ready and the time the last one was handed out.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 * const token = TokenService.getToken("api").pipe(Effect.provide(TokenService.layerTest({ api: "token-a" })))
 * Effect.runPromise(token).then((token) => assert.strictEqual(token.authorization, "Bearer token-a"))
 * const ByScope = TokenService.layerTest((client, { scope }) => `${client}-${scope ?? "default"}`)
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerTest = (tokens: testService.Tokens): Layer.Layer<TokenService> =>
  Layer.sync(TokenService, () => testService.make(tokens))

/**
 * A token for `client`, from the `TokenService` of the context.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * // The client's own scope and resources, or others for this call, cached apart from the client's.
 * const token = TokenService.getToken("api")
 * const admin = TokenService.getToken("api", { scope: "admin", resource: "https://admin.example.com" })
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
 * // For a readiness probe: the state of every client's tokens, at no cost to the acquisitions.
 * const probe = Effect.map(TokenService.readiness, (readiness) => JSON.stringify(readiness))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const readiness: Effect.Effect<TokenReadiness.Readiness, never, TokenService> = TokenService.pipe(
  Effect.flatMap((service) => service.readiness)
)

/**
 * {@link TokenService.Service.drop}: `client`'s tokens and resolved definition, through the `TokenService` of the context.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
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
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 * // After the client's permissions changed at the server: the next call asks for a new token.
 * const renewed = TokenService.invalidate("api").pipe(Effect.zipRight(TokenService.getToken("api")))
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
