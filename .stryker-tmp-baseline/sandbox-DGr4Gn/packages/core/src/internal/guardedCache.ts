// @ts-nocheck
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AccessToken } from "../AccessToken.js"
import type { TokenCache } from "../TokenCache.js"
import { TokenCacheError } from "../TokenError.js"
import * as TokenMetrics from "../TokenMetrics.js"
import { isTrustworthy } from "./cachedToken.js"
import type { Registration } from "./slots.js"

/**
 * The `TokenCache` as the token service uses it: an optimisation that can never fail, hang or
 * corrupt an acquisition. An operation that fails, dies or takes longer than the bound is a cache
 * failure, which is a miss; an entry that could not have come from a token endpoint is a miss and
 * is removed. A cache that stops answering is reported once, and once again when it is back, not
 * on every acquisition: the metric counts every failure.
 */

/** The token service's view of its cache. */
export interface GuardedCache {
  /** The trustworthy token stored under `key`, if any. */
  readonly get: (registration: Registration, key: string) => Effect.Effect<Option.Option<AccessToken>>
  readonly set: (
    registration: Registration,
    key: string,
    token: AccessToken,
    timeToLive: Duration.Duration
  ) => Effect.Effect<void>
  readonly remove: (registration: Registration, key: string) => Effect.Effect<void>
  /** `request` coordinated by the cache; run as is when the coordination dies before it starts. */
  readonly coordinate: <E>(
    registration: Registration,
    key: string,
    request: Effect.Effect<AccessToken, E>,
    isFresh: (token: AccessToken) => boolean
  ) => Effect.Effect<AccessToken, E>
}

/** Guards `cache`: each of its operations may take `timeout`. */
export const make = (cache: TokenCache.Service, timeout: Duration.Duration): GuardedCache => {
  /** Whether the last operation failed: the warning is written when this turns true. */
  let unavailable = false

  const failed = (registration: Registration, error: TokenCacheError) =>
    Effect.suspend(() => {
      TokenMetrics.cacheFailures.unsafeUpdate(1, registration.labels)
      const first = !unavailable
      unavailable = true
      return (first
        ? Effect.logWarning(`${error.message}; carrying on without the cache until it answers again`)
        : Effect.logDebug(`${error.message}; carrying on without the cache`)).pipe(
          Effect.annotateLogs({ client: registration.name })
        )
    })

  const answered = Effect.suspend(() => {
    if (!unavailable) return Effect.void
    unavailable = false
    return Effect.logInfo("The token cache answers again")
  })

  /** Runs one operation within the bound, turning a defect or a timeout into a cache failure. */
  const guarded = <A>(
    registration: Registration,
    operation: TokenCacheError["operation"],
    effect: Effect.Effect<A, TokenCacheError>,
    onFailure: A
  ): Effect.Effect<A> =>
    effect.pipe(
      Effect.catchAllDefect((defect) =>
        Effect.fail(new TokenCacheError({ operation, description: "the cache died with a defect", cause: defect }))
      ),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new TokenCacheError({ operation, description: `no answer within ${Duration.format(timeout)}` })
      }),
      Effect.tap(() => answered),
      Effect.catchAll((error) => Effect.as(failed(registration, error), onFailure))
    )

  const remove = (registration: Registration, key: string) =>
    guarded(registration, "remove", cache.remove(key), undefined)

  return {
    get: (registration, key) =>
      Effect.flatMap(
        guarded(registration, "get", cache.get(key), Option.none<AccessToken>()),
        (cached) =>
          Effect.clockWith((clock) => {
            if (Option.isNone(cached) || isTrustworthy(cached.value, clock.unsafeCurrentTimeMillis())) {
              return Effect.succeed(cached)
            }
            return Effect.logWarning("Dropped a token cache entry that no token endpoint could have sent").pipe(
              Effect.annotateLogs({ client: registration.name }),
              Effect.zipRight(remove(registration, key)),
              Effect.as(Option.none())
            )
          })
      ),
    set: (registration, key, token, timeToLive) =>
      guarded(registration, "set", cache.set(key, token, timeToLive), undefined),
    remove,
    coordinate: (registration, key, request, isFresh) =>
      Effect.suspend(() => {
        let started = false
        const tracked = Effect.suspend(() => {
          started = true
          return request
        })
        return cache.coordinate(key, tracked, isFresh).pipe(
          // A coordination that dies before the request started costs the coordination, not the
          // token; one that dies later is a bug that a second request would hide.
          Effect.catchAllDefect((defect) =>
            started
              ? Effect.die(defect)
              : Effect.zipRight(
                failed(
                  registration,
                  new TokenCacheError({ operation: "lock", description: "the cache died with a defect", cause: defect })
                ),
                request
              )
          )
        )
      })
  }
}
