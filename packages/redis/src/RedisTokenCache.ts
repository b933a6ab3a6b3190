/**
 * A `TokenCache` on Redis, shared by the replicas of a worker: a token one replica receives is
 * used by all, values are encrypted at rest with AES-256-GCM when a key is configured, a short
 * Redis lock lets one replica ask the token endpoint while the others wait for its token, and a
 * Redis that is down or slow only costs each replica its own token request.
 *
 * @since 0.1.0
 */
import type * as AccessToken from "@access-token/core/AccessToken"
import * as TokenCache from "@access-token/core/TokenCache"
import { TokenCacheError } from "@access-token/core/TokenError"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import * as crypto from "node:crypto"
import * as Encryption from "./internal/encryption.js"

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
export const defaultPrefix = "access-token:"

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultCommandTimeout: Duration.Duration = Duration.millis(500)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultLockTimeToLive: Duration.Duration = Duration.seconds(10)

/**
 * How much longer than the lock's time to live a replica waits for another's token by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultWaitMargin: Duration.Duration = Duration.seconds(2)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultPollInterval: Duration.Duration = Duration.millis(50)

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

/** Deletes a key only if it still holds the value the caller read or wrote. */
const compareAndDelete =
  `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`

/** An entry that is there but cannot be used: it is dropped, and `get` reports it. */
class Unreadable extends Data.TaggedError("Unreadable")<{ readonly reason: string }> {}

const decodeStored = Schema.decodeUnknownEither(TokenCache.StoredTokenJson)
const encodeStored = Schema.encodeEither(TokenCache.StoredTokenJson)

/** The longest time to live written, for a caller that passes an infinite one. */
const maxTimeToLive = Duration.toMillis(Duration.days(1))

/** What went wrong with a command, without its arguments, which may hold a token. */
const describeFailure = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { readonly code?: unknown }).code
    const text = typeof code === "string" && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message
    return text.length > 200 ? `${text.slice(0, 200)}...` : text
  }
  return "unknown failure"
}

interface Settings {
  readonly prefix: string
  readonly key: Buffer | undefined
  readonly commandTimeout: Duration.Duration
  readonly lockTimeToLive: Duration.Duration
  readonly waitTimeout: Duration.Duration
  readonly pollInterval: Duration.Duration
}

const positive = (
  field: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Either.Either<Duration.Duration, RedisConfigurationError> => {
  const duration = input === undefined ? Option.some(fallback) : Duration.decodeUnknown(input)
  return Option.isSome(duration) && Duration.greaterThan(duration.value, Duration.zero) &&
      Duration.isFinite(duration.value)
    ? Either.right(duration.value)
    : Either.left(new RedisConfigurationError({ field, reason: "must be a positive, finite duration" }))
}

const settings = (options: CacheOptions | undefined): Either.Either<Settings, RedisConfigurationError> =>
  Either.gen(function*() {
    const key = options?.encryptionKey === undefined
      ? undefined
      : yield* Either.mapLeft(
        Encryption.parseKey(options.encryptionKey),
        (reason) => new RedisConfigurationError({ field: "encryptionKey", reason })
      )
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

/**
 * Logs when the connection is lost and when it is back, once each per outage, and keeps ioredis
 * from reporting an `error` event that nobody listens to.
 */
const watchConnection = (client: Redis): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    let lost = false
    const onError = (error: unknown) => {
      if (lost) return
      lost = true
      runFork(
        Effect.logWarning(
          `Redis token cache connection failed (${
            describeFailure(error)
          }); each replica requests its own tokens until it is back`
        )
      )
    }
    const onReady = () => {
      if (!lost) return
      lost = false
      runFork(Effect.logInfo("Redis token cache connection restored"))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        client.on("error", onError)
        client.on("ready", onReady)
      }),
      () =>
        Effect.sync(() => {
          client.off("error", onError)
          client.off("ready", onReady)
        })
    )
  })

const build = (
  client: Redis,
  config: Settings
): Effect.Effect<TokenCache.TokenCache.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* watchConnection(client)
    const { commandTimeout, key: encryptionKey, lockTimeToLive, pollInterval, prefix, waitTimeout } = config
    const lockMillis = Duration.toMillis(lockTimeToLive)
    const tokenKey = (key: string) => `${prefix}token:${key}`
    const lockKey = (key: string) => `${prefix}lock:${key}`

    /** Settles when the connection being opened is ready (`true`) or has failed; one for all waiting commands. */
    let opening: Promise<boolean> | undefined
    const opened = (): Promise<boolean> => {
      if (opening !== undefined) return opening
      opening = new Promise<boolean>((resolve) => {
        const settle = (ok: boolean) => {
          client.off("ready", onReady)
          client.off("close", onClose)
          client.off("end", onClose)
          opening = undefined
          resolve(ok)
        }
        const onReady = () => settle(true)
        const onClose = () => settle(false)
        client.on("ready", onReady)
        client.on("close", onClose)
        client.on("end", onClose)
      })
      if (client.status === "wait") client.connect().catch(() => undefined)
      return opening
    }

    /**
     * Waits for a connection being opened, and fails at once while Redis is unreachable, so that
     * no command is queued to run later.
     */
    const connected = (
      operation: TokenCacheError["operation"],
      command: string
    ): Effect.Effect<void, TokenCacheError> =>
      Effect.suspend(() => {
        const status = client.status
        if (status === "ready") return Effect.void
        const notConnected = new TokenCacheError({
          operation,
          description: `Redis ${command} not sent: Redis is not connected`
        })
        if (status !== "wait" && status !== "connecting" && status !== "connect") return Effect.fail(notConnected)
        return Effect.flatMap(Effect.promise(opened), (ok) => ok ? Effect.void : Effect.fail(notConnected))
      })

    const run = <A>(
      operation: TokenCacheError["operation"],
      command: string,
      send: (client: Redis) => Promise<A>
    ): Effect.Effect<A, TokenCacheError> =>
      connected(operation, command).pipe(
        Effect.zipRight(Effect.tryPromise({
          try: () => send(client),
          catch: (cause) =>
            new TokenCacheError({ operation, description: `Redis ${command} failed: ${describeFailure(cause)}` })
        })),
        Effect.timeoutFail({
          duration: commandTimeout,
          onTimeout: () =>
            new TokenCacheError({
              operation,
              description: `Redis ${command} got no answer within ${Duration.format(commandTimeout)}`
            })
        })
      )

    const read = (key: string): Effect.Effect<Option.Option<AccessToken.AccessToken>, TokenCacheError | Unreadable> =>
      Effect.gen(function*() {
        const redisKey = tokenKey(key)
        const raw = yield* run("get", "GET", (client) => client.get(redisKey))
        if (raw === null) return Option.none()
        const json = encryptionKey === undefined ? raw : Encryption.open(encryptionKey, key, raw)
        const decoded = json === undefined ? undefined : decodeStored(json)
        if (decoded === undefined || Either.isLeft(decoded)) {
          // Only this value is dropped: a token another replica writes meanwhile stays.
          yield* Effect.ignore(run("get", "EVAL", (client) => client.eval(compareAndDelete, 1, redisKey, raw)))
          return yield* new Unreadable({
            reason: decoded === undefined
              ? "dropped an entry that could not be decrypted (written with another encryption key, or without one)"
              : encryptionKey === undefined
              ? "dropped an entry that could not be decoded (written with an encryption key, or corrupt)"
              : "dropped an entry that could not be decoded"
          })
        }
        const now = yield* Clock.currentTimeMillis
        return DateTime.toEpochMillis(decoded.right.expiresAt) <= now ? Option.none() : Option.some(decoded.right.token)
      })

    const get = (key: string) =>
      Effect.catchTag(
        read(key),
        "Unreadable",
        ({ reason }) => Effect.fail(new TokenCacheError({ operation: "get", description: reason }))
      )

    const set = (key: string, token: AccessToken.AccessToken, timeToLive: Duration.Duration) =>
      Effect.gen(function*() {
        const requested = Duration.toMillis(timeToLive)
        const millis = Number.isFinite(requested) ? Math.max(1, Math.ceil(requested)) : maxTimeToLive
        const now = yield* DateTime.now
        const json = encodeStored({ token, expiresAt: DateTime.add(now, { millis }) })
        if (Either.isLeft(json)) {
          // The parse error would quote the token: report the failure without it.
          return yield* new TokenCacheError({ operation: "set", description: "the token could not be encoded" })
        }
        const value = encryptionKey === undefined ? json.right : Encryption.seal(encryptionKey, key, json.right)
        yield* run("set", "SET", (client) => client.set(tokenKey(key), value, "PX", millis))
      })

    const remove = (key: string) => Effect.asVoid(run("remove", "DEL", (client) => client.del(tokenKey(key))))

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

    const coordinate = <E, R>(
      key: string,
      request: Effect.Effect<AccessToken.AccessToken, E, R>,
      isFresh: (token: AccessToken.AccessToken) => boolean
    ): Effect.Effect<AccessToken.AccessToken, E, R> =>
      Effect.uninterruptibleMask((restore) => {
        const fresh: Effect.Effect<Option.Option<AccessToken.AccessToken>, TokenCacheError> = read(key).pipe(
          Effect.catchTag("Unreadable", () => Effect.succeedNone),
          Effect.map(Option.filter(isFresh))
        )
        const outcome = (name: string) => Effect.annotateCurrentSpan("access_token.cache.coordination", name)
        const withoutLock = (error: TokenCacheError) =>
          Effect.logWarning(`${error.message}; requesting a token without the other replicas`).pipe(
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

        return Effect.gen(function*() {
          const first = yield* Effect.either(restore(lock(key)))
          if (Either.isLeft(first)) return yield* withoutLock(first.left)
          if (Option.isSome(first.right)) return yield* asOwner(first.right.value)
          const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(waitTimeout)
          while (true) {
            yield* restore(Effect.sleep(pollInterval))
            const found = yield* Effect.either(restore(fresh))
            if (Either.isLeft(found)) return yield* withoutLock(found.left)
            if (Option.isSome(found.right)) {
              yield* outcome("waited")
              return found.right.value
            }
            if ((yield* Clock.currentTimeMillis) >= deadline) {
              yield* Effect.logWarning(
                `No token from the replica holding the lock within ${Duration.format(waitTimeout)}; requesting one`
              )
              yield* outcome("timeout")
              return yield* restore(request)
            }
            // The lock is free again when its owner failed or died without storing a token.
            const next = yield* Effect.either(restore(lock(key)))
            if (Either.isLeft(next)) return yield* withoutLock(next.left)
            if (Option.isSome(next.right)) return yield* asOwner(next.right.value)
          }
        })
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
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const redisOptions: RedisOptions = {
          ...defaultRedisOptions,
          commandTimeout: Duration.toMillis(config.commandTimeout),
          ...options?.redisOptions
        }
        const url = options?.url === undefined
          ? undefined
          : Redacted.isRedacted(options.url)
          ? Redacted.value(options.url)
          : options.url
        const client = url === undefined ? new Redis(redisOptions) : new Redis(url, redisOptions)
        // The connection is the cache's own: no error event of it may go unhandled.
        client.on("error", () => undefined)
        return client
      }),
      (client) =>
        Effect.promise(() => client.quit().catch(() => undefined)).pipe(
          Effect.timeout(config.commandTimeout),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => client.disconnect()))
        )
    )
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
  options: Config.Config.Wrap<Options> = config
): Layer.Layer<TokenCache.TokenCache, RedisConfigurationError | ConfigError.ConfigError> =>
  Layer.scoped(TokenCache.TokenCache, Effect.flatMap(Config.unwrap(options), make))
