/**
 * The operations of the caches the core ships: in process, and on `@effect/platform`'s
 * `KeyValueStore`. `TokenCache` gives them their `coordinate`, which neither needs: neither is
 * shared between processes that would ask for the same token at once.
 */
// @ts-nocheck

import type * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AccessToken } from "../AccessToken.js"
import type { TokenCache } from "../TokenCache.js"
import { TokenCacheError } from "../TokenError.js"
import * as storedToken from "./storedToken.js"

/** A cache's own operations. */
export type Operations = Omit<TokenCache.Service, "coordinate">

interface MemoryEntry {
  readonly token: AccessToken
  readonly expiresAt: number
}

/**
 * At most `capacity` entries, the least recently used dropped first once the expired ones are
 * gone; a `Map` keeps insertion order, and a read moves its entry to the end.
 */
export const memory = (capacity: number): Operations => {
  const entries = new Map<string, MemoryEntry>()
  const evict = (now: number) => {
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= now) entries.delete(key)
    }
    const excess = entries.size - capacity + 1
    if (excess > 0) {
      const keys = entries.keys()
      for (let i = 0; i < excess; i++) entries.delete(keys.next().value!)
    }
  }
  return {
    get: (key) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const entry = entries.get(key)
          if (entry === undefined) return Option.none()
          entries.delete(key)
          if (entry.expiresAt <= clock.unsafeCurrentTimeMillis()) return Option.none()
          entries.set(key, entry)
          return Option.some(entry.token)
        })
      ),
    set: (key, token, timeToLive) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          entries.delete(key)
          if (entries.size >= capacity) evict(now)
          entries.set(key, { token, expiresAt: now + Duration.toMillis(timeToLive) })
        })
      ),
    remove: (key) => Effect.sync(() => entries.delete(key))
  }
}

const storeFailure = (operation: TokenCacheError["operation"]) => (cause: unknown) =>
  new TokenCacheError({ operation, description: `key-value store ${operation} failed`, cause })

/** Entries written with the stored-token codec, in a store (already prefixed) of strings. */
export const keyValueStore = (store: KeyValueStore.KeyValueStore): Operations => {
  const remove = (key: string) => Effect.mapError(store.remove(key), storeFailure("remove"))
  return {
    get: (key) =>
      Effect.gen(function*() {
        const raw = yield* Effect.mapError(store.get(key), storeFailure("get"))
        if (Option.isNone(raw)) return Option.none()
        const token = yield* Effect.option(storedToken.decode(raw.value))
        if (Option.isNone(token)) {
          yield* remove(key)
          return yield* new TokenCacheError({
            operation: "get",
            description: "dropped an entry that could not be decoded"
          })
        }
        // An expired entry is dropped, as the store has no expiry of its own.
        if (Option.isNone(token.value)) yield* remove(key)
        return token.value
      }),
    set: (key, token, timeToLive) =>
      Effect.flatMap(
        storedToken.encode(token, timeToLive),
        (entry) => Effect.mapError(store.set(key, entry.value), storeFailure("set"))
      ),
    remove
  }
}
