// @ts-nocheck
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { AccessToken } from "../AccessToken.js"
import { TokenCacheError } from "../TokenError.js"
import { isTrustworthy } from "./cachedToken.js"
import { withoutProto } from "./json.js"

/** @internal */
export const StoredToken = Schema.Struct({
  token: AccessToken,
  expiresAt: Schema.DateTimeUtc
})

/** @internal */
export const StoredTokenJson = Schema.parseJson(StoredToken, { reviver: withoutProto })

/** The longest time to live written, for a caller that passes an infinite one. */
const maxTimeToLive = Duration.days(1)

/** @internal */
export interface Entry {
  readonly value: string
  readonly timeToLive: Duration.Duration
}

const encodeJson = Schema.encode(StoredTokenJson)
const decodeJson = Schema.decodeUnknown(StoredTokenJson)

/**
 * The entry for `token`, valid for `timeToLive` rounded up to whole milliseconds (at least one, at
 * most a day when it is infinite), so that a store's own expiry and the one written agree.
 *
 * @internal
 */
export const encode = (token: AccessToken, timeToLive: Duration.Duration): Effect.Effect<Entry, TokenCacheError> =>
  Effect.gen(function*() {
    const requested = Duration.toMillis(timeToLive)
    const clamped = Number.isFinite(requested) ? Duration.millis(Math.max(1, Math.ceil(requested))) : maxTimeToLive
    const now = yield* DateTime.now
    const value = yield* Effect.mapError(
      encodeJson({ token, expiresAt: DateTime.addDuration(now, clamped) }),
      // The parse error would quote the token: report the failure without it.
      () => new TokenCacheError({ operation: "set", description: "the token could not be encoded" })
    )
    return { value, timeToLive: clamped }
  })

/**
 * The token of an entry, `None` once it has expired. An entry that cannot be decoded fails, without
 * quoting it: the caller drops it, as it would never be readable.
 *
 * @internal
 */
export const decode = (value: string): Effect.Effect<Option.Option<AccessToken>, TokenCacheError> =>
  Effect.gen(function*() {
    const decoded = yield* Effect.mapError(
      decodeJson(value),
      () => new TokenCacheError({ operation: "get", description: "an entry could not be decoded" })
    )
    const now = yield* Clock.currentTimeMillis
    // The store may be shared and unencrypted: its token is held to what a token endpoint could send.
    if (!isTrustworthy(decoded.token, now)) {
      return yield* new TokenCacheError({ operation: "get", description: "an entry held an invalid token" })
    }
    return DateTime.toEpochMillis(decoded.expiresAt) <= now ? Option.none() : Option.some(decoded.token)
  })
