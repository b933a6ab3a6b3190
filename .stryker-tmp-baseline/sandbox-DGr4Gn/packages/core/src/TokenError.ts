/**
 * The typed failures of token acquisition. Every message is written for the person reading the
 * log, and none contains a client secret or a token. Retrieving an issuer's metadata fails with the
 * errors of `AuthorizationServerMetadata`, which the unions here and {@link isRetryable} include.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
// Types only: the metadata errors carry this module's TypeId, so a value import would be a cycle.
import type { MetadataError } from "./AuthorizationServerMetadata.js"
import { transportVerb } from "./internal/errorWording.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@access-token/core/TokenError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

const retryAfterSuffix = (retryAfter: Duration.Duration | undefined): string =>
  retryAfter === undefined ? "" : `, retry after ${Duration.format(retryAfter)}`

/**
 * The token endpoint refused the request with an OAuth 2.0 error response (RFC 6749 §5.2). An
 * `error` member in a `200` response is a refusal too.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * const token = TokenService.getToken("api").pipe(
 *   Effect.tapErrorTag("TokenRefusedError", (error) =>
 *     error.error === "invalid_client"
 *       ? Effect.logError("The token service does not accept our credentials: check API_CLIENT_SECRET")
 *       : Effect.void)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenRefusedError extends Schema.TaggedError<TokenRefusedError>("@access-token/core/TokenRefusedError")(
  "TokenRefusedError",
  {
    client: Schema.String,
    status: Schema.Number,
    error: Schema.String,
    errorDescription: Schema.optional(Schema.String),
    errorUri: Schema.optional(Schema.String),
    retryAfter: Schema.optional(Schema.DurationFromSelf)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const description = this.errorDescription === undefined ? "" : `: ${this.errorDescription}`
    return `The token endpoint refused client "${this.client}" with ${this.error}${description} (HTTP ${this.status}${
      retryAfterSuffix(this.retryAfter)
    })`
  }
}

/**
 * The token endpoint answered with something that is not a token response: an HTML page, a
 * truncated or oversized body, JSON of the wrong shape, an error status without an OAuth 2.0
 * error. `body` holds at most the first few hundred characters, with anything that looks like a
 * credential masked; a JSON or form body sent with a success status is shown by its shape alone,
 * every string value masked, since that is where a token would be.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTokenResponseError
  extends Schema.TaggedError<InvalidTokenResponseError>("@access-token/core/InvalidTokenResponseError")(
    "InvalidTokenResponseError",
    {
      client: Schema.String,
      status: Schema.Number,
      contentType: Schema.optional(Schema.String),
      reason: Schema.String,
      body: Schema.String,
      retryAfter: Schema.optional(Schema.DurationFromSelf)
    }
  )
{
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const contentType = this.contentType === undefined ? "no content type" : this.contentType
    const body = this.body.length === 0 ? "empty body" : `body: ${JSON.stringify(this.body)}`
    return `The token endpoint sent client "${this.client}" an invalid token response (HTTP ${this.status}, ${contentType}${
      retryAfterSuffix(this.retryAfter)
    }): ${this.reason}; ${body}`
  }
}

/**
 * The token endpoint could not be reached or did not answer in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenTransportError
  extends Schema.TaggedError<TokenTransportError>("@access-token/core/TokenTransportError")(
    "TokenTransportError",
    {
      client: Schema.String,
      reason: Schema.Literal("Connect", "Reset", "Timeout", "Transport"),
      endpoint: Schema.String,
      description: Schema.String
    }
  )
{
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const what = transportVerb[this.reason]
    return `Client "${this.client}" ${what} the token endpoint ${this.endpoint}: ${this.description}`
  }
}

/**
 * A client definition, or the parameters of one request, cannot be used: a missing or malformed
 * field, an extra parameter that would override the grant or the credentials, a plain `http`
 * token endpoint that is not on loopback. The message names the environment variable (`variable`) for a client
 * read by `ClientCredentialsClient.config`, the field otherwise: `Client "api" is misconfigured: API_TOKEN_ENDPOINT
 * is empty`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClientConfigurationError
  extends Schema.TaggedError<ClientConfigurationError>("@access-token/core/ClientConfigurationError")(
    "ClientConfigurationError",
    {
      client: Schema.String,
      field: Schema.String,
      reason: Schema.String,
      /** The variable the field was read from (`API_TOKEN_ENDPOINT`), for a client read by `ClientCredentialsClient.config`. */
      variable: Schema.optional(Schema.String)
    }
  )
{
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Client "${this.client}" is misconfigured: ${this.variable ?? this.field} ${this.reason}`
  }
}

/**
 * A token was asked for a client name that is not registered, or without a name while several
 * clients are registered.
 *
 * @example
 * ```ts
 * import { TokenError } from "@access-token/core"
 *
 * const error = new TokenError.UnknownClientError({ client: "biling", known: ["billing", "reports"] })
 * assert.strictEqual(error.message, 'No client named "biling" is registered (known clients: "billing", "reports")')
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownClientError extends Schema.TaggedError<UnknownClientError>("@access-token/core/UnknownClientError")(
  "UnknownClientError",
  {
    client: Schema.optional(Schema.String),
    known: Schema.Array(Schema.String)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const known = this.known.length === 0 ? "none" : this.known.map((name) => `"${name}"`).join(", ")
    return this.client === undefined
      ? `No client name was given and ${this.known.length} clients are registered (${known}): name one`
      : `No client named "${this.client}" is registered (known clients: ${known})`
  }
}

/**
 * The client resolver of the token service (`resolveClient`) failed to produce a definition for a
 * client name it was asked for: it failed (`reason` `"Failed"`), did not answer within
 * `resolverTimeout` (`"TimedOut"`), or threw or died (`"Died"`). The resolver's own error is kept in
 * `cause`, never in the message, since it may quote what the resolver read.
 *
 * @since 0.2.0
 * @category errors
 */
export class ClientResolutionError
  extends Schema.TaggedError<ClientResolutionError>("@access-token/core/ClientResolutionError")(
    "ClientResolutionError",
    {
      client: Schema.String,
      reason: Schema.optionalWith(Schema.Literal("Failed", "TimedOut", "Died"), { default: () => "Failed" as const }),
      /** The `resolverTimeout` that lapsed, for `"TimedOut"`. */
      timeout: Schema.optional(Schema.DurationFromSelf),
      cause: Schema.optional(Schema.Defect)
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
    const prefix = `The definition of client "${this.client}" could not be resolved`
    if (this.reason === "TimedOut") {
      const within = this.timeout === undefined ? "" : ` within ${Duration.format(this.timeout)}`
      return `${prefix}: resolveClient did not answer${within} (resolverTimeout)`
    }
    if (this.reason === "Died") return `${prefix}: resolveClient failed unexpectedly (a defect: see the cause)`
    const kind = typeof this.cause === "object" && this.cause !== null && "_tag" in this.cause &&
        typeof this.cause._tag === "string"
      ? ` (${this.cause._tag})`
      : ""
    return `${prefix}${kind}`
  }
}

/**
 * A token cache could not be read or written. The token service logs it and carries on as if the
 * cache had missed: a broken cache never fails a token request.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenCacheError extends Schema.TaggedError<TokenCacheError>("@access-token/core/TokenCacheError")(
  "TokenCacheError",
  {
    operation: Schema.Literal("get", "set", "remove", "lock"),
    description: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Token cache ${this.operation} failed: ${this.description}`
  }
}

/**
 * What asking the token endpoint can fail with; for a client configured by issuer, retrieving the
 * issuer's metadata too.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenEndpointError =
  | TokenRefusedError
  | InvalidTokenResponseError
  | TokenTransportError
  | ClientConfigurationError
  | MetadataError

/**
 * What asking the token service for a token can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenError = TokenEndpointError | UnknownClientError | ClientResolutionError

/**
 * @example
 * ```ts
 * import { TokenError } from "@access-token/core"
 *
 * const refused = new TokenError.TokenRefusedError({ client: "api", status: 400, error: "invalid_scope" })
 * assert.ok(TokenError.isTokenError(refused))
 * assert.ok(!TokenError.isTokenError(new Error("boom")))
 * assert.strictEqual(refused.message, 'The token endpoint refused client "api" with invalid_scope (HTTP 400)')
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isTokenError = (u: unknown): u is TokenError | TokenCacheError => Predicate.hasProperty(u, TypeId)

/** OAuth 2.0 error codes that no retry can fix. */
const permanentErrors: ReadonlySet<string> = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target",
  "access_denied",
  "unsupported_response_type",
  "invalid_dpop_proof"
])

/** Statuses that say "try again later": request timeout, too many requests, any server error. */
const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500

/**
 * Whether another attempt may succeed: transport failures and timeouts, `408`, `429` and `5xx`
 * answers, from the token endpoint or a metadata location; never a refusal such as
 * `invalid_client` or `invalid_scope`, whatever its status, nor a configuration error or unusable
 * metadata.
 *
 * @example
 * ```ts
 * import { TokenError, TokenService } from "@access-token/core"
 * import { Effect, Schedule } from "effect"
 *
 * const timeout = new TokenError.TokenTransportError({
 *   client: "api",
 *   reason: "Timeout",
 *   endpoint: "https://auth.example.com/token",
 *   description: "no answer within 30 seconds"
 * })
 * assert.ok(TokenError.isRetryable(timeout))
 * assert.ok(!TokenError.isRetryable(new TokenError.TokenRefusedError({ client: "api", status: 401, error: "invalid_client" })))
 *
 * // A worker that, once the client's own retries are spent, tries again every minute, but only
 * // when another attempt may succeed.
 * const token = TokenService.getToken("api").pipe(
 *   Effect.retry({
 *     schedule: Schedule.spaced("1 minute"),
 *     while: (error) => error._tag !== "UnknownClientError" && TokenError.isRetryable(error)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = <E extends TokenEndpointError | ClientResolutionError>(error: E): boolean => {
  switch (error._tag) {
    case "TokenTransportError":
      return true
    case "TokenRefusedError":
      return !permanentErrors.has(error.error) &&
        (isRetryableStatus(error.status) || error.error === "temporarily_unavailable" ||
          error.error === "server_error" || error.error === "slow_down")
    case "InvalidTokenResponseError":
      return isRetryableStatus(error.status)
    case "ClientConfigurationError":
    case "InvalidMetadataError":
    // The resolver is the application's own: it retries what it knows to be transient.
    case "ClientResolutionError":
      return false
    case "MetadataUnavailableError":
      return error.reason !== "Status" || isRetryableStatus(error.status ?? 0)
  }
}
