/**
 * Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0): what a token service
 * publishes about itself at a well-known location under its issuer, above all its token endpoint.
 * A client configured by its issuer alone finds everything else here.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as discovery from "./internal/discovery.js"
import { transportVerb } from "./internal/errorWording.js"
import { Metadata } from "./internal/metadataDocument.js"
// Called by `make`, never while this module loads: retrieval makes this module's errors, so the two
// import each other.
import * as retrieval from "./internal/metadataRetrieval.js"
import * as requestDefaults from "./internal/requestDefaults.js"
import { TypeId } from "./TokenError.js"

/**
 * The metadata document. The members this library uses are typed (`issuer`, `token_endpoint`,
 * the supported authentication methods and algorithms, `mtls_endpoint_aliases` as a record of
 * endpoint name to URL); every other member is kept as the server sent it, so a program can read
 * what it needs without a second request. A member named `__proto__` is dropped.
 *
 * @since 0.2.0
 * @category schemas
 */
export const AuthorizationServerMetadata: typeof Metadata = Metadata

/**
 * A metadata document, as decoded by {@link AuthorizationServerMetadata}.
 *
 * @since 0.2.0
 * @category models
 */
export type AuthorizationServerMetadata = Schema.Schema.Type<typeof Metadata>

/**
 * A well-known location: `"oauth-authorization-server"` (RFC 8414, inserted between the host and
 * the issuer's path) or `"openid-configuration"` (OpenID Connect Discovery, appended to the path).
 *
 * @since 0.2.0
 * @category models
 */
export type WellKnown = discovery.WellKnown

/**
 * The locations tried, in order: RFC 8414 first, since this is an OAuth 2.0 client, then OpenID
 * Connect Discovery, which many token services publish only.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultOrder: ReadonlyArray<WellKnown> = ["oauth-authorization-server", "openid-configuration"]

/**
 * A retry policy for metadata retrieval; it sees each failure as its input. Failures that no retry
 * can fix (a mismatched issuer, a malformed document) are never retried whatever it says.
 *
 * @since 0.2.0
 * @category models
 */
export type RetrySchedule = Schedule.Schedule<unknown, MetadataError>

/**
 * The default retry policy, the same as for token requests: exponential backoff from 200 ms with
 * jitter, at most 3 retries, no retry decided more than 10 s after the first failure.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRetrySchedule: RetrySchedule = requestDefaults.retrySchedule

/**
 * How long one location may take to answer (connect, send, read the body), as for token requests.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRequestTimeout: Duration.Duration = requestDefaults.requestTimeout

/**
 * The largest document read, as for token responses.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxResponseBytes: number = requestDefaults.maxResponseBytes

/**
 * How long a service that keeps documents (`TokenService`) uses one before refreshing it in the
 * background: the server's `Cache-Control: max-age` (zero for `no-store`, `no-cache`) held within
 * `minimum` and `maximum`, or `default` when the server does not say.
 *
 * @since 0.2.0
 * @category models
 */
export interface RefreshInterval {
  readonly default: Duration.DurationInput
  readonly minimum: Duration.DurationInput
  readonly maximum: Duration.DurationInput
}

/**
 * One hour when the server does not say; never more often than once a minute nor less often than
 * once a day, whatever it says.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRefreshInterval: RefreshInterval = {
  default: Duration.hours(1),
  minimum: Duration.minutes(1),
  maximum: Duration.days(1)
}

/**
 * How metadata is retrieved: the well-known locations in order, the timeout, the size bound, the retries.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The well-known locations tried, in order, each after the previous one had no document; default {@link defaultOrder}. */
  readonly order?: ReadonlyArray<WellKnown> | undefined
  /** How long one location may take to answer; default 30 s. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The largest document read; default 1 MiB. */
  readonly maxResponseBytes?: number | undefined
  /** The retry policy; default {@link defaultRetrySchedule}. */
  readonly retrySchedule?: RetrySchedule | undefined
  /** Allows a plain `http` issuer and token endpoint off loopback. */
  readonly allowInsecureTransport?: boolean | undefined
}

/**
 * A document and what came with it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Discovered {
  readonly metadata: AuthorizationServerMetadata
  /** The URL the document was read from. */
  readonly location: string
  /**
   * How long the server lets it be kept (`Cache-Control: max-age`; zero for `no-store` and
   * `no-cache`), `undefined` when it does not say.
   */
  readonly maxAge: Duration.Duration | undefined
}

/**
 * The authorization server metadata of an issuer could not be retrieved: its server could not be
 * reached or did not answer in time, or no well-known location holds a document (`locations` lists
 * each one tried, in order).
 *
 * @since 0.2.0
 * @category errors
 */
export class MetadataUnavailableError
  extends Schema.TaggedError<MetadataUnavailableError>("@access-token/core/MetadataUnavailableError")(
    "MetadataUnavailableError",
    {
      issuer: Schema.String,
      reason: Schema.Literal("Connect", "Reset", "Timeout", "Transport", "Status"),
      locations: Schema.Array(Schema.String),
      status: Schema.optional(Schema.Number),
      description: Schema.String
    }
  )
{
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    const what = this.reason === "Status" ? "found no document at" : transportVerb[this.reason]
    return `The authorization server metadata of issuer "${this.issuer}" is unavailable: ${what} ${
      this.locations.join(", then ")
    }: ${this.description}`
  }
}

/**
 * An issuer's authorization server metadata cannot be used: the issuer is not a valid issuer
 * identifier, the document's `issuer` is not exactly the configured one (RFC 8414 §3.3), the
 * document is malformed or too large, or it names a token endpoint that would take credentials
 * over plain `http`.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidMetadataError
  extends Schema.TaggedError<InvalidMetadataError>("@access-token/core/InvalidMetadataError")(
    "InvalidMetadataError",
    {
      issuer: Schema.String,
      reason: Schema.Literal("Issuer", "IssuerMismatch", "Malformed", "TooLarge", "InsecureEndpoint"),
      location: Schema.optional(Schema.String),
      description: Schema.String
    }
  )
{
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.2.0
   */
  override get message(): string {
    return this.location === undefined
      ? `The issuer "${this.issuer}" cannot be used: ${this.description}`
      : `The authorization server metadata of issuer "${this.issuer}" at ${this.location} is unusable: ${this.description}`
  }
}

/**
 * What retrieving an issuer's authorization server metadata can fail with.
 *
 * @since 0.2.0
 * @category models
 */
export type MetadataError = MetadataUnavailableError | InvalidMetadataError

/**
 * Retrieves the metadata of an issuer.
 *
 * @since 0.2.0
 * @category models
 */
export type Discover = (issuer: string) => Effect.Effect<Discovered, MetadataError>

/**
 * A retrieval function on the `HttpClient` of the context, for a service that retrieves the
 * metadata of many issuers, many times. See {@link discover} for what it does.
 *
 * @example
 * ```ts
 * import { AuthorizationServerMetadata } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * // One retrieval function for several issuers, OpenID Connect Discovery first.
 * const program = Effect.gen(function*() {
 *   const retrieve = yield* AuthorizationServerMetadata.make({
 *     order: ["openid-configuration", "oauth-authorization-server"],
 *     requestTimeout: "5 seconds"
 *   })
 *   const [first, second] = yield* Effect.all([
 *     retrieve("https://login.example.com/tenant-a"),
 *     retrieve("https://login.example.com/tenant-b")
 *   ])
 *   return [first.metadata.token_endpoint, second.metadata.token_endpoint]
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<Discover, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) =>
    retrieval.make(client, {
      order: options?.order ?? defaultOrder,
      timeout: Duration.decode(options?.requestTimeout ?? defaultRequestTimeout),
      maxBytes: options?.maxResponseBytes ?? defaultMaxResponseBytes,
      retrySchedule: options?.retrySchedule ?? defaultRetrySchedule,
      allowInsecureTransport: options?.allowInsecureTransport ?? false
    }))

/**
 * Retrieves the authorization server metadata of `issuer` from the well-known locations in
 * `order`: a location that answers with an error status that no retry fixes (`404`, or a redirect,
 * which is never followed) or with something that is not a JSON object hands over to the next.
 * The document's `issuer` must be exactly `issuer` (RFC 8414 §3.3). Unreachable servers, timeouts,
 * `408`, `429` and `5xx` are retried on the schedule.
 *
 * @example
 * ```ts
 * import { AuthorizationServerMetadata } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = AuthorizationServerMetadata.discover("https://login.example.com").pipe(
 *   Effect.map(({ maxAge, metadata }) => ({
 *     tokenEndpoint: metadata.token_endpoint,
 *     methods: metadata.token_endpoint_auth_methods_supported ?? ["client_secret_basic"],
 *     // From Cache-Control: how long the document may be kept.
 *     maxAge
 *   })),
 *   Effect.catchTag("MetadataUnavailableError", (error) => Effect.logWarning(error.message)),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const discover = (
  issuer: string,
  options?: Options
): Effect.Effect<Discovered, MetadataError, HttpClient.HttpClient> =>
  Effect.flatMap(make(options), (retrieve) => retrieve(issuer))
