/**
 * The replaceable store behind `TokenService`. The token service keeps its working copy of each
 * token in process and consults the cache only on a local miss, then writes every token it
 * receives: a remote cache therefore costs no round trip per API call.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type { AccessToken } from "./AccessToken.js"
import * as caches from "./internal/caches.js"
import * as storedToken from "./internal/storedToken.js"
import type { TokenCacheError } from "./TokenError.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenCache extends Context.Tag("@access-token/core/TokenCache")<TokenCache, TokenCache.Service>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenCache {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The token stored under `key`, if it has not expired. */
    readonly get: (key: string) => Effect.Effect<Option.Option<AccessToken>, TokenCacheError>
    /** Stores `token` under `key` for at most `timeToLive`. */
    readonly set: (
      key: string,
      token: AccessToken,
      timeToLive: Duration.Duration
    ) => Effect.Effect<void, TokenCacheError>
    /** Forgets the token stored under `key`. */
    readonly remove: (key: string) => Effect.Effect<void, TokenCacheError>
    /**
     * Coordinates the processes that share this cache so that one token request serves them all:
     * `request` asks the token endpoint and stores its token under `key`; a shared cache lets one
     * process run it (for example under a lock) while the others wait for the token it stores, and
     * accept it when `isFresh` holds. The token service calls it on a miss; a cache local to one
     * process simply runs `request`.
     */
    readonly coordinate: <E, R>(
      key: string,
      request: Effect.Effect<AccessToken, E, R>,
      isFresh: (token: AccessToken) => boolean
    ) => Effect.Effect<AccessToken, E, R>
  }
}

/**
 * Builds a cache from its three operations; `coordinate` defaults to running the request as is,
 * which is right for any cache that is not shared between processes.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache } from "@access-token/core"
 * import { Effect, Layer, Option } from "effect"
 *
 * // A cache on a store of your own (here a Map): get, set and remove are all it takes.
 * const store = new Map<string, AccessToken.AccessToken>()
 * const MapCache = Layer.succeed(
 *   TokenCache.TokenCache,
 *   TokenCache.make({
 *     get: (key) => Effect.sync(() => Option.fromNullable(store.get(key))),
 *     set: (key, token) => Effect.sync(() => void store.set(key, token)),
 *     remove: (key) => Effect.sync(() => void store.delete(key))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  service: Omit<TokenCache.Service, "coordinate"> & Partial<Pick<TokenCache.Service, "coordinate">>
): TokenCache.Service => ({
  coordinate: (_key, request) => request,
  ...service
})

/**
 * How the token service uses its `TokenCache`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How long one cache operation may take (default {@link defaultTimeout}). One that takes longer,
   * fails or dies is a cache failure: the token is requested as if it were not cached, and the
   * acquisition does not fail.
   */
  readonly cacheTimeout?: Duration.DurationInput | undefined
}

/**
 * The default bound of one cache operation: a shared cache answers in milliseconds, and a token
 * request costs less than waiting longer.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.millis(500)

/**
 * The default capacity of {@link layerMemory}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCapacity = 10_000

/**
 * An in-process cache, bounded to `capacity` entries (default {@link defaultCapacity}). When full,
 * it first drops the entries that have expired, then the least recently used.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache } from "@access-token/core"
 * import { DateTime, Duration, Effect, Option } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* TokenCache.makeMemory({ capacity: 100 })
 *   const token = AccessToken.make({ value: "eyJhbGciOi", receivedAt: yield* DateTime.now, expiresIn: "1 hour" })
 *   yield* cache.set("api", token, Duration.minutes(59))
 *   assert.deepStrictEqual(yield* cache.get("api"), Option.some(token))
 *   yield* cache.remove("api")
 *   assert.deepStrictEqual(yield* cache.get("api"), Option.none())
 * })
 *
 * Effect.runSync(program)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options?: { readonly capacity?: number | undefined }): Effect.Effect<TokenCache.Service> =>
  Effect.sync(() => make(caches.memory(Math.max(1, options?.capacity ?? defaultCapacity))))

/**
 * The default cache: in process, bounded, see {@link makeMemory}.
 *
 * @example
 * ```ts
 * import { TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 *
 * const Tokens = TokenService.layer({
 *   clients: {
 *     api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("secret") }
 *   }
 * }).pipe(
 *   Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory({ capacity: 1_000 })]),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options?: { readonly capacity?: number | undefined }): Layer.Layer<TokenCache> =>
  Layer.effect(TokenCache, makeMemory(options))

/**
 * How a token is stored in a string store: the token with its wire-safe encoding and the instant
 * the entry stops being valid.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StoredToken = storedToken.StoredToken

/**
 * @since 0.1.0
 * @category schemas
 */
export const StoredTokenJson = storedToken.StoredTokenJson

/**
 * An entry to write to a string store, with the time to live to give it there.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoredTokenEntry {
  /** {@link StoredTokenJson}: the token and when the entry stops being valid. */
  readonly value: string
  /** The time to live asked for, rounded up to whole milliseconds; a day at most when it is infinite. */
  readonly timeToLive: Duration.Duration
}

/**
 * Encodes a token for a cache on a store of strings, as {@link makeKeyValueStore} and
 * `@access-token/redis` do, so that such caches read each other's entries. The error never quotes
 * the token.
 *
 * @example
 * ```ts
 * import { AccessToken, TokenCache } from "@access-token/core"
 * import { DateTime, Duration, Effect, Layer, Option } from "effect"
 *
 * // A cache on a store of strings of your own (here a Map), that reads and writes the entries
 * // TokenCache.layerKeyValueStore and @access-token/redis write.
 * const store = new Map<string, string>()
 * const StringCache = Layer.succeed(
 *   TokenCache.TokenCache,
 *   TokenCache.make({
 *     get: (key) => {
 *       const value = store.get(key)
 *       return value === undefined ? Effect.succeedNone : TokenCache.decodeStoredToken(value)
 *     },
 *     set: (key, token, timeToLive) =>
 *       Effect.map(TokenCache.encodeStoredToken(token, timeToLive), (entry) => void store.set(key, entry.value)),
 *     remove: (key) => Effect.sync(() => void store.delete(key))
 *   })
 * )
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* TokenCache.TokenCache
 *   const token = AccessToken.make({ value: "abc", receivedAt: yield* DateTime.now, expiresIn: "1 hour" })
 *   yield* cache.set("api", token, Duration.minutes(59))
 *   const cached = yield* cache.get("api")
 *   assert.ok(Option.isSome(cached) && cached.value.authorization === "Bearer abc")
 * })
 *
 * Effect.runPromise(Effect.provide(program, StringCache))
 * ```
 *
 * @since 0.2.0
 * @category codecs
 */
export const encodeStoredToken: (
  token: AccessToken,
  timeToLive: Duration.Duration
) => Effect.Effect<StoredTokenEntry, TokenCacheError> = storedToken.encode

/**
 * Decodes an entry written by {@link encodeStoredToken}: `None` once it has expired, and a
 * `TokenCacheError` (which never quotes the entry) when it cannot be decoded, in which case the
 * cache should drop it.
 *
 * @example
 * ```ts
 * import { TokenCache } from "@access-token/core"
 * import { Effect, Exit } from "effect"
 *
 * // An entry that is not one (written by something else, or corrupted): an error to drop it on,
 * // never quoting the entry.
 * const exit = Effect.runSyncExit(TokenCache.decodeStoredToken("{\"token\":\"eyJ...\"}"))
 * assert.ok(Exit.isFailure(exit))
 * ```
 *
 * @since 0.2.0
 * @category codecs
 */
export const decodeStoredToken: (value: string) => Effect.Effect<Option.Option<AccessToken>, TokenCacheError> =
  storedToken.decode

/**
 * The default key prefix of {@link layerKeyValueStore}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKeyValueStorePrefix = "access-token/"

/**
 * A cache on `@effect/platform`'s `KeyValueStore`, so that a worker restarted within a token's
 * lifetime reuses it (for example with `KeyValueStore.layerFileSystem`). Entries are JSON written
 * with {@link StoredToken}; an entry that has expired is dropped on read, and one that cannot be
 * decoded is dropped and reported as a miss.
 *
 * The store holds tokens in clear: put it where only the worker can read it.
 *
 * @example
 * ```ts
 * import { TokenCache } from "@access-token/core"
 * import { KeyValueStore } from "@effect/platform"
 * import { Effect, Layer } from "effect"
 *
 * // Two caches in one store, kept apart by their prefixes.
 * const Caches = Layer.effect(
 *   TokenCache.TokenCache,
 *   TokenCache.makeKeyValueStore({ prefix: "tokens/billing/" })
 * ).pipe(Layer.provide(KeyValueStore.layerMemory))
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* TokenCache.TokenCache
 *   yield* cache.remove("api")
 * })
 *
 * Effect.runSync(Effect.provide(program, Caches))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeKeyValueStore = (options?: {
  readonly prefix?: string | undefined
}): Effect.Effect<TokenCache.Service, never, KeyValueStore.KeyValueStore> =>
  Effect.map(
    KeyValueStore.KeyValueStore,
    (store) => make(caches.keyValueStore(KeyValueStore.prefix(store, options?.prefix ?? defaultKeyValueStorePrefix)))
  )

/**
 * A layer for {@link makeKeyValueStore}.
 *
 * @example
 * ```ts
 * import { TokenCache } from "@access-token/core"
 * import { NodeKeyValueStore } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * // A restarted worker reuses its tokens: they are kept in files under .tokens/ (readable by the worker only).
 * const FileCache = TokenCache.layerKeyValueStore({ prefix: "worker/" }).pipe(
 *   Layer.provide(NodeKeyValueStore.layerFileSystem(".tokens"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKeyValueStore = (options?: {
  readonly prefix?: string | undefined
}): Layer.Layer<TokenCache, never, KeyValueStore.KeyValueStore> => Layer.effect(TokenCache, makeKeyValueStore(options))
