/**
 * A `TokenCache` on Redis, shared by the replicas of a worker: a token one replica receives is
 * used by all, values are encrypted at rest with AES-256-GCM when a key is configured, a short
 * Redis lock lets one replica ask the token endpoint while the others wait for its token, and a
 * Redis that is down or slow only costs each replica its own token request.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as LayerConfig from "@access-token/core/LayerConfig"
import * as TokenCache from "@access-token/core/TokenCache"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import { type RedisOptions } from "ioredis"
import * as Connection from "./internal/connection.js"
import * as Coordination from "./internal/coordination.js"
import * as Entries from "./internal/entries.js"
import * as Settings from "./internal/settings.js"

/**
 * What the cache does with a Redis connection, whoever owns it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheOptions {
  /**
   * Prepended to every key (default {@link defaultPrefix}): tokens live under `<prefix>token:`,
   * locks under `<prefix>lock:`.
   */
  readonly prefix?: string | undefined
  /**
   * A 32-byte AES-256 key, as 64 hex digits or base64 (`openssl rand -base64 32`): values are then
   * encrypted at rest with AES-256-GCM. Recommended; every replica must have the same key.
   */
  readonly encryptionKey?: Redacted.Redacted<string> | undefined
  /** How long one Redis command may take before the cache counts as unavailable (default 500 ms). */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /**
   * How long the lock of a replica asking the token endpoint is held at most (default 10 s): it
   * should exceed a normal token request, and is how long the others wait if that replica dies.
   */
  readonly lockTimeToLive?: Duration.DurationInput | undefined
  /**
   * How long a replica waits for the token another replica is requesting before it requests one
   * itself (default: `lockTimeToLive` plus {@link defaultWaitMargin}).
   */
  readonly waitTimeout?: Duration.DurationInput | undefined
  /** How often a waiting replica looks for the token (default 50 ms). */
  readonly pollInterval?: Duration.DurationInput | undefined
}

/**
 * What the cache is built with when it opens its own connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends CacheOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://...` (default `redis://127.0.0.1:6379`). */
  readonly url?: string | Redacted.Redacted<string> | undefined
  /** ioredis options, applied over {@link defaultRedisOptions}. */
  readonly redisOptions?: RedisOptions | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultPrefix: string = Settings.defaultPrefix

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultCommandTimeout: Duration.Duration = Settings.defaultCommandTimeout

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultLockTimeToLive: Duration.Duration = Settings.defaultLockTimeToLive

/**
 * How much longer than the lock's time to live a replica waits for another's token by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultWaitMargin: Duration.Duration = Settings.defaultWaitMargin

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultPollInterval: Duration.Duration = Settings.defaultPollInterval

/**
 * The ioredis options of a connection the cache opens itself: commands fail at once while Redis is
 * unreachable instead of queueing, a command cut off by a lost connection is not sent again later,
 * and the connection is re-established in the background every second at most.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRedisOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2_000,
  retryStrategy: (attempts) => Math.min(attempts * 100, 1_000)
}

/**
 * The cache's options cannot be used: an encryption key of the wrong length, a duration that is
 * not positive. The message never quotes the key.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisConfigurationError
  extends Schema.TaggedError<RedisConfigurationError>("@access-token/redis/RedisConfigurationError")(
    "RedisConfigurationError",
    {
      field: Schema.String,
      reason: Schema.String
    }
  )
{
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `The Redis token cache is misconfigured: ${this.field} ${this.reason}`
  }
}

const settings = (options: CacheOptions | undefined) =>
  Either.mapLeft(Settings.parse(options), (invalid) => new RedisConfigurationError(invalid))

const build = (
  client: Redis,
  config: Settings.Settings
): Effect.Effect<TokenCache.TokenCache.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const run = yield* Connection.commands(client, config.commandTimeout)
    const { key: encryptionKey, lockTimeToLive, pollInterval, prefix, waitTimeout } = config
    const { get, remove, set, stored } = Entries.make(run, prefix, encryptionKey)
    const coordinate = Coordination.coordinate({
      run,
      lockKey: (key) => `${prefix}lock:${key}`,
      stored,
      lockTimeToLive,
      waitTimeout,
      pollInterval
    })
    return TokenCache.make({ get, set, remove, coordinate })
  })

/**
 * A cache on a Redis client the caller owns: the client is used as configured and is not closed
 * with the scope. Give it `enableOfflineQueue: false` (see {@link defaultRedisOptions}) so that
 * commands fail fast while Redis is down instead of queueing.
 *
 * @example
 * ```ts
 * import { TokenCache } from "@access-token/core"
 * import { RedisTokenCache } from "@access-token/redis"
 * import { Layer, Redacted } from "effect"
 * import { Redis } from "ioredis"
 *
 * // The program's own connection, shared with the cache; the program closes it.
 * const redis = new Redis("redis://cache.internal:6379", { ...RedisTokenCache.defaultRedisOptions, lazyConnect: true })
 *
 * const Cache = Layer.scoped(
 *   TokenCache.TokenCache,
 *   RedisTokenCache.makeFromClient(redis, {
 *     prefix: "billing-worker:",
 *     encryptionKey: Redacted.make("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
 *   })
 * )
 *
 * redis.disconnect()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFromClient = (
  client: Redis,
  options?: CacheOptions
): Effect.Effect<TokenCache.TokenCache.Service, RedisConfigurationError, Scope.Scope> =>
  Effect.flatMap(settings(options), (config) => build(client, config))

/**
 * A cache on a Redis connection of its own, opened now and closed with the scope. Building it does
 * not wait for Redis: while Redis is unreachable, the cache misses and each replica requests its
 * own tokens.
 *
 * @example
 * ```ts
 * import { RedisTokenCache } from "@access-token/redis"
 * import { Effect, Option } from "effect"
 *
 * // Look up what the replicas share, for example in a diagnostics command.
 * const cachedToken = (key: string) =>
 *   Effect.scoped(
 *     Effect.gen(function*() {
 *       const cache = yield* RedisTokenCache.make({ url: "redis://cache.internal:6379", commandTimeout: "1 second" })
 *       return Option.isSome(yield* cache.get(key))
 *     })
 *   )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<TokenCache.TokenCache.Service, RedisConfigurationError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* settings(options)
    const client = yield* Connection.open(options?.url, {
      ...defaultRedisOptions,
      commandTimeout: Duration.toMillis(config.commandTimeout),
      ...options?.redisOptions
    }, config.commandTimeout)
    return yield* build(client, config)
  })

/**
 * A layer for {@link makeFromClient}.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { RedisTokenCache } from "@access-token/redis"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 * import { Redis } from "ioredis"
 *
 * const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
 *   ...RedisTokenCache.defaultRedisOptions,
 *   lazyConnect: true
 * })
 *
 * const Tokens = TokenService.layerConfig({
 *   clients: { api: ClientCredentialsClient.config("API") }
 * }).pipe(
 *   Layer.provide([TokenEndpointClient.layer(), RedisTokenCache.layerFromClient(redis)]),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 *
 * redis.disconnect()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = (
  client: Redis,
  options?: CacheOptions
): Layer.Layer<TokenCache.TokenCache, RedisConfigurationError> =>
  Layer.scoped(TokenCache.TokenCache, makeFromClient(client, options))

/**
 * The cache on a Redis connection of its own, closed with the layer; see {@link make}.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { RedisTokenCache } from "@access-token/redis"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 *
 * // Every replica of the worker shares its tokens: one token request per cold start, not one per replica.
 * const Cache = RedisTokenCache.layer({
 *   url: Redacted.make("redis://:password@cache.internal:6379/0"),
 *   encryptionKey: Redacted.make("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
 *   lockTimeToLive: "5 seconds"
 * })
 *
 * const Tokens = TokenService.layerConfig({
 *   clients: { api: ClientCredentialsClient.config("API") }
 * }).pipe(Layer.provide([TokenEndpointClient.layer(), Cache]), Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TokenCache.TokenCache, RedisConfigurationError> =>
  Layer.scoped(TokenCache.TokenCache, make(options))

/**
 * Reads `REDIS_URL` (redacted, as it may hold a password), and the optional
 * `ACCESS_TOKEN_CACHE_ENCRYPTION_KEY` (redacted) and `ACCESS_TOKEN_CACHE_PREFIX`.
 *
 * @example
 * ```ts
 * import { RedisTokenCache } from "@access-token/redis"
 * import { Config, ConfigProvider, Effect, Redacted } from "effect"
 *
 * const provider = ConfigProvider.fromMap(new Map([["REDIS_URL", "redis://cache.internal:6379"]]))
 * const options = Effect.runSync(Effect.withConfigProvider(RedisTokenCache.config, provider))
 *
 * // The URL may hold a password: it stays redacted.
 * assert.ok(Redacted.isRedacted(options.url))
 * assert.strictEqual(options.encryptionKey, undefined)
 *
 * // Under a prefix of your own: CACHE_REDIS_URL, CACHE_ACCESS_TOKEN_CACHE_ENCRYPTION_KEY, ...
 * const prefixed = Config.nested(RedisTokenCache.config, "CACHE")
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.map(
  Config.all({
    url: Config.redacted("REDIS_URL"),
    encryptionKey: Config.option(Config.redacted("ACCESS_TOKEN_CACHE_ENCRYPTION_KEY")),
    prefix: Config.option(Config.string("ACCESS_TOKEN_CACHE_PREFIX"))
  }),
  ({ encryptionKey, prefix, url }): Options => ({
    url,
    encryptionKey: Option.getOrUndefined(encryptionKey),
    prefix: Option.getOrUndefined(prefix)
  })
)

/**
 * The cache with its options read from configuration, by default {@link config}; or, for example,
 * `layerConfig({ url: Config.redacted("CACHE_URL"), encryptionKey: Config.redacted("CACHE_KEY") })`.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenEndpointClient, TokenService } from "@access-token/core"
 * import { RedisTokenCache } from "@access-token/redis"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Config, Layer } from "effect"
 *
 * // REDIS_URL, ACCESS_TOKEN_CACHE_ENCRYPTION_KEY and ACCESS_TOKEN_CACHE_PREFIX from the environment
 * const Cache = RedisTokenCache.layerConfig()
 *
 * // or from names of your own
 * const CustomCache = RedisTokenCache.layerConfig({
 *   url: Config.redacted("CACHE_URL"),
 *   encryptionKey: Config.redacted("CACHE_KEY")
 * })
 *
 * const Tokens = TokenService.layerConfig({
 *   clients: { api: ClientCredentialsClient.config("API") }
 * }).pipe(Layer.provide([TokenEndpointClient.layer(), Cache]), Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: LayerConfig.Wrap<Options> = config
): Layer.Layer<TokenCache.TokenCache, RedisConfigurationError | ConfigError.ConfigError> =>
  Layer.scoped(TokenCache.TokenCache, Effect.flatMap(LayerConfig.unwrap(options), make))
