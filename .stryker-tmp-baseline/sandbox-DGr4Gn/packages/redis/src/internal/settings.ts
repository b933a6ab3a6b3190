// @ts-nocheck
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { CacheOptions } from "../RedisTokenCache.js"
import * as Encryption from "./encryption.js"

export const defaultPrefix = "access-token:"
export const defaultCommandTimeout: Duration.Duration = Duration.millis(500)
export const defaultLockTimeToLive: Duration.Duration = Duration.seconds(10)
export const defaultWaitMargin: Duration.Duration = Duration.seconds(2)
export const defaultPollInterval: Duration.Duration = Duration.millis(50)

/** The cache options checked, with their defaults. */
export interface Settings {
  readonly prefix: string
  readonly key: Buffer | undefined
  readonly commandTimeout: Duration.Duration
  readonly lockTimeToLive: Duration.Duration
  readonly waitTimeout: Duration.Duration
  readonly pollInterval: Duration.Duration
}

/** An option that cannot be used; the reason never quotes the encryption key. */
export interface Invalid {
  readonly field: string
  readonly reason: string
}

const positive = (
  field: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Either.Either<Duration.Duration, Invalid> => {
  const duration = input === undefined ? Option.some(fallback) : Duration.decodeUnknown(input)
  return Option.isSome(duration) && Duration.greaterThan(duration.value, Duration.zero) &&
      Duration.isFinite(duration.value)
    ? Either.right(duration.value)
    : Either.left({ field, reason: "must be a positive, finite duration" })
}

export const parse = (options: CacheOptions | undefined): Either.Either<Settings, Invalid> =>
  Either.gen(function*() {
    const key = options?.encryptionKey === undefined
      ? undefined
      : yield* Either.mapLeft(Encryption.parseKey(options.encryptionKey), (reason) => ({
        field: "encryptionKey",
        reason
      }))
    const commandTimeout = yield* positive("commandTimeout", options?.commandTimeout, defaultCommandTimeout)
    const lockTimeToLive = yield* positive("lockTimeToLive", options?.lockTimeToLive, defaultLockTimeToLive)
    const waitTimeout = yield* positive(
      "waitTimeout",
      options?.waitTimeout,
      Duration.sum(lockTimeToLive, defaultWaitMargin)
    )
    const pollInterval = yield* positive("pollInterval", options?.pollInterval, defaultPollInterval)
    return { prefix: options?.prefix ?? defaultPrefix, key, commandTimeout, lockTimeToLive, waitTimeout, pollInterval }
  })
