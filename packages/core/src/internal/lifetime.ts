import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { AccessToken } from "../AccessToken.js"
import type { ClientCredentialsClient } from "../ClientCredentialsClient.js"
import * as TokenLifetime from "../TokenLifetime.js"

/**
 * How long a token is used and when it is renewed: pure arithmetic on epoch milliseconds, so that
 * it can be tested with properties and the service keeps only its concurrency.
 */

/** One client's lifetime settings, in milliseconds. */
export interface Lifetime {
  /** How long before its expiry a token counts as expired, before {@link effectiveBuffer}. */
  readonly expirationBuffer: number
  /** How long a token sent without `expires_in` is used. */
  readonly defaultLifetime: number
  readonly refreshWindow: TokenLifetime.RefreshWindow
}

/** A client's lifetime settings: its own, or the service's, or the defaults. */
export const lifetimeOf = (options: TokenLifetime.Options, client: ClientCredentialsClient): Lifetime => ({
  expirationBuffer: Duration.toMillis(
    client.expirationBuffer ?? options.expirationBuffer ?? TokenLifetime.defaultExpirationBuffer
  ),
  defaultLifetime: Duration.toMillis(
    client.defaultLifetime ?? options.defaultLifetime ?? TokenLifetime.defaultLifetime
  ),
  refreshWindow: options.refreshWindow ?? TokenLifetime.defaultRefreshWindow
})

/** A token with the times that decide its use. */
export interface Timed {
  readonly token: AccessToken
  /** When the token counts as expired (its expiry minus the buffer). */
  readonly staleAt: number
  /** When a background renewal starts. */
  readonly refreshAt: number
  /** `token`, ready to hand out without allocating on every hit. */
  readonly effect: Effect.Effect<AccessToken>
}

/**
 * What an acquisition asks for: a token that is not stale (`acquire`), one not yet due for renewal
 * (`refresh`), or one newer than the acquisition itself (`force`).
 */
export type Mode = "acquire" | "refresh" | "force"

/**
 * How much earlier than `expires_in` says a token may expire: a server computes `exp` in whole
 * seconds (`floor(now) + expires_in`), up to a second before the request's time plus `expires_in`.
 */
export const expiryRounding = 1000

/**
 * The buffer applied to a token that can be relied on for `usable` ms (its lifetime minus
 * {@link expiryRounding}): the configured one, but no more than a quarter of that, so that a
 * short-lived token is still cached and used for three quarters of the time it surely lives.
 */
export const effectiveBuffer = (configured: number, usable: number): number => Math.min(configured, usable / 4)

/** When a token used from `receivedAt` until `staleAt` enters its refresh window. */
export const refreshPoint = (window: TokenLifetime.RefreshWindow, receivedAt: number, staleAt: number): number => {
  const usable = staleAt - receivedAt
  const ahead = "fraction" in window
    ? usable * Math.min(Math.max(window.fraction, 0), 1)
    : Math.min(Duration.toMillis(Duration.decode(window.margin)), usable)
  return staleAt - ahead
}

/**
 * When `token` counts as expired and when it is renewed. The server's `refresh_in` hint is taken
 * when it comes before the token is stale.
 */
export const timed = (lifetime: Lifetime, token: AccessToken): Timed => {
  const receivedAt = DateTime.toEpochMillis(token.receivedAt)
  let staleAt: number
  if (token.expiresAt === undefined) {
    staleAt = receivedAt + lifetime.defaultLifetime
  } else {
    // A token with no usable life left (`expires_in` of 1 s) is stale when it arrives: it goes to
    // the callers that waited for its request, and is never cached.
    const usable = Math.max(DateTime.toEpochMillis(token.expiresAt) - receivedAt - expiryRounding, 0)
    staleAt = receivedAt + usable - effectiveBuffer(lifetime.expirationBuffer, usable)
  }
  // No hint is one that never comes before the token is stale.
  const hinted = token.refreshAt === undefined ? Infinity : DateTime.toEpochMillis(token.refreshAt)
  const refreshAt = hinted < staleAt ? hinted : refreshPoint(lifetime.refreshWindow, receivedAt, staleAt)
  return { token, staleAt, refreshAt, effect: Effect.succeed(token) }
}

/**
 * Whether a token found in the shared cache serves an acquisition in `mode` that started at
 * `startedAt`: a forced one takes only a token requested since it started (by another replica).
 */
export const isFresh = (
  lifetime: Lifetime,
  token: AccessToken,
  mode: Mode,
  startedAt: number,
  now: number
): boolean => {
  const { refreshAt, staleAt } = timed(lifetime, token)
  return mode === "force"
    ? DateTime.toEpochMillis(token.receivedAt) >= startedAt && staleAt > now
    : mode === "refresh"
    ? refreshAt > now
    : staleAt > now
}
