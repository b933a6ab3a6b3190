// @ts-nocheck
import type * as AccessToken from "@access-token/core/AccessToken"
import type { TokenCacheError } from "@access-token/core/TokenError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as crypto from "node:crypto"
import { compareAndDelete, type Run } from "./connection.js"

/** Where another replica's token request stands, as seen by a replica waiting for it. */
type Turn =
  /** The token it stored. */
  | { readonly _tag: "Stored"; readonly token: AccessToken.AccessToken }
  /** Its lock was free again (it failed or died), and this replica took it. */
  | { readonly _tag: "Owner"; readonly owner: string }
  | { readonly _tag: "Unavailable"; readonly error: TokenCacheError }

/** Neither a token nor the lock yet: the waiting replica looks again. */
class Pending extends Data.TaggedError("Pending") {}

/** What the lock needs from the cache. */
export interface Lock {
  readonly run: Run
  /** The Redis key of the lock of a cache key. */
  readonly lockKey: (key: string) => string
  /** The stored token of a cache key, `None` when there is none or it cannot be read. */
  readonly stored: (key: string) => Effect.Effect<Option.Option<AccessToken.AccessToken>, TokenCacheError>
  readonly lockTimeToLive: Duration.Duration
  readonly waitTimeout: Duration.Duration
  readonly pollInterval: Duration.Duration
}

/**
 * `TokenCache.Service.coordinate` on a Redis lock: the replica that takes the lock of a key
 * requests the token, and the others wait for the token it stores, or for the lock to be free again.
 */
export const coordinate = (
  { lockKey, lockTimeToLive, pollInterval, run, stored, waitTimeout }: Lock
) => {
  const lockMillis = Duration.toMillis(lockTimeToLive)
  // Looks again every `pollInterval` while another replica holds the lock, for `waitTimeout` at most.
  const waiting = Schedule.spaced(pollInterval).pipe(Schedule.upTo(waitTimeout))

  /** Releases the lock only if it is still this owner's: once it has expired it may be another's. */
  const unlock = (key: string, owner: string): Effect.Effect<void> =>
    run("lock", "EVAL", (client) => client.eval(compareAndDelete, 1, lockKey(key), owner)).pipe(
      Effect.catchAll((error) => Effect.logDebug(`${error.message}; the lock expires by itself`)),
      Effect.asVoid
    )

  /** Takes the lock of `key` under a value of its own; `None` if another replica holds it. */
  const lock = (key: string): Effect.Effect<Option.Option<string>, TokenCacheError> =>
    Effect.suspend(() => {
      const owner = crypto.randomUUID()
      return run("lock", "SET NX", (client) => client.set(lockKey(key), owner, "PX", lockMillis, "NX")).pipe(
        Effect.map((reply) => reply === "OK" ? Option.some(owner) : Option.none()),
        // A stalled Redis may still take the lock when it wakes up: release it right behind.
        Effect.tapError(() => Effect.forkDaemon(unlock(key, owner)))
      )
    })

  return <E, R>(
    key: string,
    request: Effect.Effect<AccessToken.AccessToken, E, R>,
    isFresh: (token: AccessToken.AccessToken) => boolean
  ): Effect.Effect<AccessToken.AccessToken, E, R> =>
    Effect.uninterruptibleMask((restore) => {
      const fresh = Effect.map(stored(key), Option.filter(isFresh))
      const outcome = (name: string) => Effect.annotateCurrentSpan("access_token.cache.coordination", name)
      // The outage itself is reported once by the token service (and the connection): not here,
      // on every acquisition it lasts.
      const withoutLock = (error: TokenCacheError) =>
        Effect.logDebug(`${error.message}; requesting a token without the other replicas`).pipe(
          Effect.zipRight(outcome("unavailable")),
          Effect.zipRight(restore(request))
        )
      // The token may have been stored between the caller's look and the lock.
      const asOwner = (owner: string) =>
        restore(
          outcome("owner").pipe(
            Effect.zipRight(Effect.orElseSucceed(fresh, () => Option.none<AccessToken.AccessToken>())),
            Effect.flatMap(Option.match({ onNone: () => request, onSome: Effect.succeed }))
          )
        ).pipe(Effect.ensuring(unlock(key, owner)))

      // The lock taken while waiting, so that an interrupted wait releases it.
      let taken: string | undefined
      // The lock is free again when its owner failed or died without storing a token.
      const look: Effect.Effect<Turn, Pending> = fresh.pipe(
        Effect.flatMap(Option.match({
          onSome: (token): Effect.Effect<Turn, TokenCacheError | Pending> => Effect.succeed({ _tag: "Stored", token }),
          onNone: () =>
            Effect.flatMap(lock(key), (owner) => {
              if (Option.isNone(owner)) return new Pending()
              taken = owner.value
              return Effect.succeed<Turn>({ _tag: "Owner", owner: owner.value })
            })
        })),
        Effect.catchTag("TokenCacheError", (error) => Effect.succeed<Turn>({ _tag: "Unavailable", error }))
      )
      const wait = restore(
        Effect.sleep(pollInterval).pipe(Effect.zipRight(Effect.retry(look, waiting)), Effect.option)
      ).pipe(Effect.onInterrupt(() => taken === undefined ? Effect.void : unlock(key, taken)))

      return Effect.gen(function*() {
        const first = yield* Effect.either(restore(lock(key)))
        if (Either.isLeft(first)) return yield* withoutLock(first.left)
        if (Option.isSome(first.right)) return yield* asOwner(first.right.value)
        const turn = yield* wait
        if (Option.isNone(turn)) {
          yield* Effect.logWarning(
            `No token from the replica holding the lock within ${Duration.format(waitTimeout)}; requesting one`
          )
          yield* outcome("timeout")
          return yield* restore(request)
        }
        switch (turn.value._tag) {
          case "Stored": {
            yield* outcome("waited")
            return turn.value.token
          }
          case "Owner":
            return yield* asOwner(turn.value.owner)
          case "Unavailable":
            return yield* withoutLock(turn.value.error)
        }
      })
    })
}
