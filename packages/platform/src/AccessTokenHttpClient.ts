/**
 * An `HttpClient` middleware that gets an access token from `TokenService` for every request,
 * sends it as `Authorization: <type> <token>`, and on a `401` renews the token and sends the
 * request once more: all token management done under the covers.
 *
 * Unlike Duende's handler, a request is never sent without a token: when no token can be had,
 * the request fails with the token error and the API is not called.
 *
 * A DPoP token (RFC 9449) goes out as `Authorization: DPoP <token>` with a new proof for each
 * request and each redirect hop, signed with the client's key; a resource server's
 * `use_dpop_nonce` challenge is answered by one retry, apart from the one renewal after a `401`.
 *
 * @since 0.1.0
 */
import * as LayerConfig from "@access-token/core/LayerConfig"
import type * as MutualTls from "@access-token/core/MutualTls"
import type * as TokenEndpointClient from "@access-token/core/TokenEndpointClient"
import type * as TokenError from "@access-token/core/TokenError"
import type * as TokenService from "@access-token/core/TokenService"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { authenticator } from "./internal/authenticator.js"
import * as clients from "./internal/clients.js"
import { stages } from "./internal/stages.js"
import { withoutRequestsInSpans } from "./internal/tracing.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends TokenEndpointClient.RequestParameters {
  /** The token client to use; may be omitted when the token service has exactly one. */
  readonly client?: string | undefined
  /**
   * The origins the token may be sent to (`https://api.example.com`); a request to any other is
   * refused with {@link OriginNotAllowedError}. Unset, any origin receives the token.
   */
  readonly allowedOrigins?: ReadonlyArray<string | URL> | undefined
  /**
   * How many redirects to follow (default 0: a `3xx` goes back to the caller). A redirect to an
   * allowed origin carries a token; to any other, no `Authorization` header at all.
   */
  readonly followRedirects?: number | undefined
  /**
   * How renewals after a `401` back off while the API keeps rejecting freshly renewed tokens
   * (default {@link defaultRejectionBackoff}): each delay is the wait before the next such renewal;
   * once the schedule is done, none is forced by a `401` until the API accepts a token again.
   */
  readonly rejectionBackoff?: Schedule.Schedule<unknown> | undefined
  /**
   * Allows sending the token over plain `http` off loopback, where anyone on the network can read it
   * (refused otherwise with {@link InsecureTransportError}, as for a client's token endpoint).
   *
   * @since 0.2.0
   */
  readonly allowInsecureTransport?: boolean | undefined
}

/**
 * The default backoff of renewals after a `401` while the API rejects freshly renewed tokens:
 * exponential from 5 s with jitter, at most 5 minutes apart. A token revoked once is renewed at
 * once whatever the schedule; only a renewed token rejected too starts the backoff.
 *
 * @since 0.2.0
 * @category constants
 */
// Stryker disable next-line StringLiteral: "" throws as the module loads, which Stryker's runner reads as no test failing
export const defaultRejectionBackoff: Schedule.Schedule<unknown> = Schedule.exponential("5 seconds").pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.minutes(5)))
)

/**
 * A request was about to carry a token to an origin the client is not bound to.
 *
 * @since 0.1.0
 * @category errors
 */
export class OriginNotAllowedError extends Schema.TaggedError<OriginNotAllowedError>(
  "@access-token/platform/OriginNotAllowedError"
)("OriginNotAllowedError", {
  client: Schema.optional(Schema.String),
  origin: Schema.String,
  allowed: Schema.Array(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const name = this.client === undefined ? "" : ` of client "${this.client}"`
    return `Refused to send the access token${name} to ${this.origin}: it is bound to ${
      this.allowed.length === 0 ? "no origin" : this.allowed.join(", ")
    }`
  }
}

/**
 * A request, or a layer's base URL, would carry the token over plain `http` off loopback.
 *
 * @since 0.2.0
 * @category errors
 */
export class InsecureTransportError extends Schema.TaggedError<InsecureTransportError>(
  "@access-token/platform/InsecureTransportError"
)("InsecureTransportError", { client: Schema.optional(Schema.String), host: Schema.String }) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    const name = this.client === undefined ? "" : ` of client "${this.client}"`
    return `Refused to send the access token${name} over plain http to ${this.host}, where anyone on the network ` +
      `can read and reuse it: use https, or set allowInsecureTransport`
  }
}

/**
 * What an authenticated client can fail with besides its transport's errors. (Named so that it
 * does not shadow the global `Error` where the module's names are imported.)
 *
 * @since 0.2.0
 * @category models
 */
export type AccessTokenError =
  | TokenError.TokenError
  | OriginNotAllowedError
  | InsecureTransportError
  | MutualTls.CertificateNotPresentedError

/**
 * Requests sent again after a `401` with a renewed token, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const unauthorizedRetries = Metric.counter("access_token_unauthorized_retries", {
  description: "Requests sent again with a renewed token after a 401",
  incremental: true
})

/**
 * Requests sent again with a new DPoP proof after a resource server asked for a nonce, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const dpopNonceRetries = Metric.counter("access_token_dpop_nonce_retries", {
  description: "Requests sent again with a new DPoP proof carrying the nonce a resource server asked for",
  incremental: true
})

/**
 * Authenticates every request of `self` with a token from `tokens`.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * // A client bound to one token service, with no TokenService left in its requirements.
 * const makeBillingClient = Effect.gen(function*() {
 *   const tokens = yield* TokenService.TokenService
 *   const client = yield* HttpClient.HttpClient
 *   return AccessTokenHttpClient.make(client, tokens, {
 *     client: "billing",
 *     allowedOrigins: ["https://billing.example.com"]
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  tokens: TokenService.TokenService.Service,
  options?: Options
): HttpClient.HttpClient.With<E | AccessTokenError, R> => {
  const inner = withoutRequestsInSpans(stages(self))
  const authenticate = authenticator(inner, tokens, options)
  return HttpClient.makeWith((request) => Effect.flatMap(request, authenticate), inner.preprocess)
}

/**
 * Authenticates every request of an `HttpClient` with a token from the `TokenService` of the
 * context: `client.pipe(withAccessToken("api"))` or `withAccessToken({ client: "api", scope })`.
 *
 * @example
 * ```ts
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { HttpClient, HttpClientRequest } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const listInvoices = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpClient.mapRequest(HttpClientRequest.prependUrl("https://billing.example.com")),
 *     AccessTokenHttpClient.withAccessToken({ client: "billing", scope: "invoices:read" }),
 *     HttpClient.filterStatusOk
 *   )
 *   const response = yield* client.get("/invoices")
 *   return yield* response.json
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withAccessToken: {
  (
    options?: string | Options
  ): <E, R>(
    self: HttpClient.HttpClient.With<E, R>
  ) => HttpClient.HttpClient.With<E | AccessTokenError, R | TokenService.TokenService>
  <E, R>(
    self: HttpClient.HttpClient.With<E, R>,
    options?: string | Options
  ): HttpClient.HttpClient.With<E | AccessTokenError, R | TokenService.TokenService>
} = dual(
  (args) => Predicate.hasProperty(args[0], HttpClient.TypeId),
  clients.withAccessToken
)

/**
 * How an authenticated client is built by a layer: the token options, a base URL (which also binds
 * the token to its origin unless `allowedOrigins` says otherwise), and any customisation of the
 * underlying client, applied before authentication.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions extends Options {
  readonly baseUrl?: string | URL | undefined
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
}

/**
 * Provides an authenticated `HttpClient.HttpClient` for a whole program, the counterpart of
 * `AddClientAccessTokenHttpClient`. It is built on the `HttpClient` of the context, which the
 * `TokenEndpointClient` must not share: give that one the plain client.
 *
 * As `HttpClient.HttpClient` fails only with `HttpClientError`, a token failure arrives as a
 * `RequestError` whose `cause` is the typed error; use {@link Tag} for a client that keeps it
 * in its error type.
 *
 * @example
 * ```ts
 * import { TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const Tokens = TokenService.layer({
 *   clients: {
 *     api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("secret") }
 *   }
 * }).pipe(
 *   Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 *
 * // Every HttpClient of the program now sends a token, to https://api.example.com only.
 * const Api = AccessTokenHttpClient.layer({ baseUrl: "https://api.example.com/" }).pipe(
 *   Layer.provide([Tokens, FetchHttpClient.layer])
 * )
 *
 * const program = Effect.gen(function*() {
 *   const response = yield* (yield* HttpClient.HttpClient).get("test")
 *   return yield* response.text
 * }).pipe(Effect.provide(Api))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: LayerOptions = {}
): Layer.Layer<HttpClient.HttpClient, InsecureTransportError, HttpClient.HttpClient | TokenService.TokenService> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(clients.build(options), (client) => clients.asHttpClient(client, options.client))
  )

/**
 * {@link layer} with its options read from configuration, each a `Config` or a plain value.
 *
 * @example
 * ```ts
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { Config } from "effect"
 *
 * // The API's base URL from API_BASE_URL; the token bound to its origin.
 * const Api = AccessTokenHttpClient.layerConfig({ client: "api", baseUrl: Config.string("API_BASE_URL") })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: LayerConfig.Wrap<LayerOptions>
): Layer.Layer<
  HttpClient.HttpClient,
  InsecureTransportError | ConfigError.ConfigError,
  HttpClient.HttpClient | TokenService.TokenService
> => Layer.unwrapEffect(Effect.map(LayerConfig.unwrap(options), layer))

/**
 * An authenticated client as a service of its own, with token failures in its error type.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthenticatedHttpClient
  extends HttpClient.HttpClient.With<HttpClientError.HttpClientError | AccessTokenError>
{}

/**
 * Declares a typed authenticated client, so that one program can hold several side by side, one
 * per API, each with its own token client:
 *
 * ```ts
 * class BillingApi extends AccessTokenHttpClient.Tag("BillingApi")<BillingApi>() {}
 * const BillingApiLive = BillingApi.layer({ client: "billing", baseUrl: "https://billing.example.com/" })
 * ```
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer } from "effect"
 *
 * class BillingApi extends AccessTokenHttpClient.Tag("BillingApi")<BillingApi>() {}
 * class ReportsApi extends AccessTokenHttpClient.Tag("ReportsApi")<ReportsApi>() {}
 *
 * const Tokens = TokenService.layerConfig({
 *   // BILLING_TOKEN_ENDPOINT, BILLING_CLIENT_ID, BILLING_CLIENT_SECRET, ...
 *   clients: { billing: ClientCredentialsClient.config("BILLING") }
 * }).pipe(Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]), Layer.provide(FetchHttpClient.layer))
 *
 * const Apis = Layer.mergeAll(
 *   BillingApi.layer({ client: "billing", baseUrl: "https://billing.example.com/" }),
 *   ReportsApi.layer({ client: "billing", baseUrl: "https://reports.example.com/", scope: "reports" })
 * ).pipe(Layer.provide([Tokens, FetchHttpClient.layer]))
 *
 * const program = Effect.gen(function*() {
 *   const billing = yield* BillingApi
 *   const response = yield* billing.get("invoices")
 *   // A token failure keeps its type: TokenRefusedError, TokenTransportError, ...
 *   return response.status
 * }).pipe(Effect.provide(Apis))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const Tag = <const Key extends string>(key: Key) => <Self>(): TagClass<Self, Key> => {
  const tag = Context.Tag(key)<Self, AuthenticatedHttpClient>()
  const layer = (options: LayerOptions = {}) => Layer.effect(tag, clients.build(options))
  const layerConfig = (options: LayerConfig.Wrap<LayerOptions>) =>
    Layer.unwrapEffect(Effect.map(LayerConfig.unwrap(options), layer))
  return Object.assign(tag, { layer, layerConfig }) as TagClass<Self, Key>
}

/**
 * A tag made by {@link Tag}, with the layer that builds its client.
 *
 * @since 0.1.0
 * @category models
 */
export interface TagClass<Self, Key extends string> extends Context.TagClass<Self, Key, AuthenticatedHttpClient> {
  /** Builds the client on the `HttpClient` and `TokenService` of the context. */
  readonly layer: (
    options?: LayerOptions
  ) => Layer.Layer<Self, InsecureTransportError, HttpClient.HttpClient | TokenService.TokenService>
  /** {@link layer} with its options read from configuration, each a `Config` or a plain value. */
  readonly layerConfig: (
    options: LayerConfig.Wrap<LayerOptions>
  ) => Layer.Layer<
    Self,
    InsecureTransportError | ConfigError.ConfigError,
    HttpClient.HttpClient | TokenService.TokenService
  >
}
