/**
 * The access token a caller receives, and the Schema of the token endpoint's success response
 * (RFC 6749 §5.1) it is decoded from.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as DPoP from "./DPoP.js"
import { bindings } from "./internal/tokenBinding.js"
import { normalizeTokenType } from "./internal/tokenType.js"
import type * as MutualTls from "./MutualTls.js"

/**
 * The longest lifetime taken from `expires_in`: larger values (up to `1e308`) are clamped to it,
 * so that a token is renewed at least daily and no expiry overflows a date.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxExpiresIn: Duration.Duration = Duration.days(1)

const maxExpiresInSeconds = Duration.toSeconds(maxExpiresIn)

/** A JSON number, or a string holding one in plain decimal or exponent form. */
const numericString = /^\s*\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$/

/**
 * A lifetime in seconds as token services send it: a number or a numeric string (both occur in the
 * wild). Negative, non-finite and non-numeric values are rejected, which makes the whole response
 * invalid; values above {@link maxExpiresIn} are clamped to it.
 *
 * @example
 * ```ts
 * import { AccessToken } from "@access-token/core"
 * import { Schema } from "effect"
 *
 * const decode = Schema.decodeUnknownSync(AccessToken.Seconds)
 * assert.strictEqual(decode(3600), 3600)
 * assert.strictEqual(decode("3600"), 3600)
 * // Clamped to a day.
 * assert.strictEqual(decode(1e308), 86_400)
 * assert.throws(() => decode(-1))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Seconds: Schema.Schema<number, number | string> = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String),
  Schema.Number,
  {
    strict: true,
    decode: (input, _, ast) => {
      const seconds = typeof input === "number"
        ? input
        : numericString.test(input)
        ? Number(input)
        : Number.NaN
      return Number.isFinite(seconds) && seconds >= 0
        ? ParseResult.succeed(Math.min(seconds, maxExpiresInSeconds))
        : ParseResult.fail(new ParseResult.Type(ast, input, "must be a non-negative number of seconds"))
    },
    encode: ParseResult.succeed
  }
)

/** Visible ASCII with no space: what fits in an `Authorization` header without injection. */
const headerSafe = /^[\x21-\x7E]+$/

/**
 * The token endpoint's success response (RFC 6749 §5.1), with the members it may carry besides.
 * `access_token` must be visible ASCII, so that it cannot break the `Authorization` header.
 * `token_type` may be absent (some servers omit it); it then means `Bearer`.
 *
 * @example
 * ```ts
 * import { AccessToken } from "@access-token/core"
 * import { Either, Schema } from "effect"
 *
 * const decode = Schema.decodeUnknownEither(AccessToken.TokenResponse)
 * const response = decode({ access_token: "mF_9.B5f-4.1JqM", token_type: "Bearer", expires_in: "3600", ext: 1 })
 * assert.deepStrictEqual(
 *   response,
 *   Either.right({ access_token: "mF_9.B5f-4.1JqM", token_type: "Bearer", expires_in: 3600, ext: 1 })
 * )
 * // A token with a space or a line break would break the Authorization header.
 * assert.ok(Either.isLeft(decode({ access_token: "abc\r\nX-Injected: 1" })))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenResponse = Schema.Struct(
  {
    access_token: Schema.String.pipe(
      Schema.filter((s) => headerSafe.test(s), { message: () => "must be a non-empty string of visible ASCII" })
    ),
    token_type: Schema.optional(
      Schema.String.pipe(Schema.filter((s) => headerSafe.test(s), { message: () => "must be a single word" }))
    ),
    expires_in: Schema.optional(Seconds),
    refresh_in: Schema.optional(Seconds),
    scope: Schema.optional(Schema.String)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * @since 0.1.0
 * @category models
 */
export type TokenResponse = typeof TokenResponse.Type

/**
 * A token as the token service issued it. The value stays `Redacted` until it is written in a
 * request header; logging or serialising the token shows `<redacted>`.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Effect, Redacted } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const token = yield* TokenService.getToken("api")
 *   yield* Effect.log(`token of type ${token.type} expires at ${token.expiresAt}`)
 *   // Redacted.value only where the token goes on the wire, for example a header of your own.
 *   return { "X-Api-Token": Redacted.value(token.value) }
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class AccessToken extends Schema.Class<AccessToken>("@access-token/core/AccessToken")({
  /** The token itself. */
  value: Schema.Redacted(Schema.String),
  /** The scheme for the `Authorization` header: `Bearer`, `DPoP`, or what the server sent. */
  type: Schema.String,
  /** When the server says the token expires; absent when it sent no `expires_in`. */
  expiresAt: Schema.optional(Schema.DateTimeUtc),
  /** When the server suggested renewing it (`refresh_in`), if it did. */
  refreshAt: Schema.optional(Schema.DateTimeUtc),
  /**
   * When this process asked for it: the lifetime counts from the request, so that the time the
   * answer took never extends it.
   */
  receivedAt: Schema.DateTimeUtc,
  /** The scope granted, when the server said. */
  scope: Schema.optional(Schema.String),
  /** The other members of the response, as sent. */
  extra: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {
  /**
   * The `Authorization` header value: `<type> <token>`.
   *
   * @since 0.1.0
   */
  get authorization(): string {
    return `${this.type} ${Redacted.value(this.value)}`
  }
}

/**
 * What a token is bound to: the DPoP key that signs its proofs (its thumbprint is the token's
 * `cnf.jkt`), the client certificate it travels with (its thumbprint is `cnf.x5t#S256`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Binding {
  readonly key: DPoP.Key | undefined
  readonly certificate: MutualTls.ClientCertificate | undefined
}

/**
 * What `token` is bound to, when the token service handed it out for a client with a DPoP key or a
 * client certificate: the very key and certificate its token request was made with, whatever the
 * client's definition is by now. Kept beside the token, never in it: no `TokenCache` stores it and
 * no rendering of the token shows it.
 *
 * @example
 * ```ts
 * import { AccessToken } from "@access-token/core"
 * import { DateTime } from "effect"
 *
 * // A token made by hand, or read from a cache by your own code, is bound to nothing.
 * const token = AccessToken.make({ value: "abc", type: "DPoP", receivedAt: DateTime.unsafeMake(0) })
 * assert.strictEqual(AccessToken.bindingOf(token), undefined)
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const bindingOf = (token: AccessToken): Binding | undefined => bindings.get(token)

/** Members that must not be kept: a client-credentials grant issues no refresh or ID token. */
const droppedMembers: ReadonlySet<string> = new Set([
  "access_token",
  "token_type",
  "expires_in",
  "refresh_in",
  "scope",
  "refresh_token",
  "id_token"
])

/**
 * Builds the token from a decoded response received at `receivedAt`.
 *
 * @example
 * ```ts
 * import { AccessToken } from "@access-token/core"
 * import { DateTime, Schema } from "effect"
 *
 * const response = Schema.decodeUnknownSync(AccessToken.TokenResponse)({
 *   access_token: "mF_9.B5f-4.1JqM",
 *   token_type: "bearer",
 *   expires_in: 3600,
 *   scope: "api"
 * })
 * const requestedAt = DateTime.unsafeMake("2026-01-01T00:00:00Z")
 * const token = AccessToken.fromResponse(response, requestedAt)
 *
 * assert.strictEqual(token.authorization, "Bearer mF_9.B5f-4.1JqM")
 * assert.strictEqual(DateTime.formatIso(token.expiresAt!), "2026-01-01T01:00:00.000Z")
 * assert.strictEqual(String(token.value), "<redacted>")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResponse = (response: TokenResponse, receivedAt: DateTime.Utc): AccessToken => {
  const extra: Record<string, unknown> = {}
  for (const key of Object.keys(response)) {
    if (!droppedMembers.has(key)) extra[key] = response[key]
  }
  return new AccessToken({
    value: Redacted.make(response.access_token),
    type: normalizeTokenType(response.token_type),
    expiresAt: response.expires_in === undefined
      ? undefined
      : DateTime.addDuration(receivedAt, Duration.seconds(response.expires_in)),
    refreshAt: response.refresh_in === undefined
      ? undefined
      : DateTime.addDuration(receivedAt, Duration.seconds(response.refresh_in)),
    receivedAt,
    scope: response.scope,
    extra
  }, { disableValidation: true })
}

/**
 * Makes a token by hand, for tests and for `TokenEndpointClient.layerTest`.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenEndpointClient } from "@access-token/core"
 * import { DateTime, Effect } from "effect"
 *
 * // A token endpoint client for your own tests: every request gets a fresh one-hour token.
 * const FakeTokenEndpoint = TokenEndpointClient.layerTest((client) =>
 *   Effect.map(DateTime.now, (receivedAt) =>
 *     AccessToken.make({ value: `token-of-${client.clientId}`, receivedAt, expiresIn: "1 hour", scope: "api" }))
 * )
 *
 * const token = AccessToken.make({ value: "abc", receivedAt: DateTime.unsafeMake(0), expiresIn: "5 minutes" })
 * assert.strictEqual(token.authorization, "Bearer abc")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly value: string
  readonly type?: string | undefined
  readonly receivedAt: DateTime.Utc
  readonly expiresIn?: Duration.DurationInput | undefined
  readonly scope?: string | undefined
  readonly extra?: Record<string, unknown> | undefined
}): AccessToken =>
  new AccessToken({
    value: Redacted.make(options.value),
    type: normalizeTokenType(options.type),
    expiresAt: options.expiresIn === undefined
      ? undefined
      : DateTime.addDuration(options.receivedAt, Duration.decode(options.expiresIn)),
    refreshAt: undefined,
    receivedAt: options.receivedAt,
    scope: options.scope,
    extra: options.extra ?? {}
  })
