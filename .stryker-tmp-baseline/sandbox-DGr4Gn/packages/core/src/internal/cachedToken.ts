// @ts-nocheck
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import { type AccessToken, maxExpiresIn } from "../AccessToken.js"

/**
 * A token read back from a cache is trusted no more than one from the wire: a cache may be shared,
 * unencrypted, written by an older version or by something else entirely. It must hold what a
 * token response would have given: a value and a type that fit in an `Authorization` header, and
 * times that a token endpoint could have set.
 */

/** What `access_token` and `token_type` must be on the wire: visible ASCII, nothing to break a header. */
const headerSafe = /^[\x21-\x7E]+$/

/** How far ahead of this process's clock the clock of the replica that stored a token may be. */
const clockTolerance = 60_000

const maxLifetime = Duration.toMillis(maxExpiresIn)

const isInstant = (value: unknown): value is DateTime.Utc =>
  DateTime.isDateTime(value) && DateTime.isUtc(value) && Number.isFinite(DateTime.toEpochMillis(value))

/** Whether `instant` is absent, or lies within the longest lifetime a token can have from `from`. */
const withinLifetime = (instant: unknown, from: number): boolean => {
  if (instant === undefined) return true
  if (!isInstant(instant)) return false
  const millis = DateTime.toEpochMillis(instant)
  return millis >= from && millis - from <= maxLifetime
}

/** Whether `token`, read back from a cache at `now`, could have come from a token endpoint. */
export const isTrustworthy = (token: unknown, now: number): token is AccessToken => {
  if (!Predicate.isObject(token)) return false
  const candidate = token as Partial<Record<keyof AccessToken, unknown>>
  if (!Redacted.isRedacted(candidate.value)) return false
  const value = Redacted.value(candidate.value)
  if (typeof value !== "string" || !headerSafe.test(value)) return false
  if (typeof candidate.type !== "string" || !headerSafe.test(candidate.type)) return false
  if (candidate.scope !== undefined && typeof candidate.scope !== "string") return false
  if (!isInstant(candidate.receivedAt)) return false
  const receivedAt = DateTime.toEpochMillis(candidate.receivedAt)
  if (receivedAt > now + clockTolerance) return false
  if (!withinLifetime(candidate.expiresAt, receivedAt) || !withinLifetime(candidate.refreshAt, receivedAt)) return false
  // What the middleware sends: the getter of a real token, not a member a cache made up.
  return candidate.authorization === `${candidate.type} ${value}`
}
