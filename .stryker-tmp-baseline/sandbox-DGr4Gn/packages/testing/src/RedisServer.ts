/**
 * Redis for tests: the one `REDIS_URL` names, or a `redis-server` started on a free loopback port
 * (never the default 6379, which may be someone else's).
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/redisServer.js"

/**
 * A `redis-server` could not be started, or did not answer in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

/**
 * A `redis-server` of the test's own, which it can kill and start again on the same port.
 *
 * @since 0.2.0
 * @category tags
 */
export class RedisServer extends Context.Tag("@access-token/testing/RedisServer")<
  RedisServer,
  RedisServer.Service
>() {}

/**
 * @since 0.2.0
 */
export declare namespace RedisServer {
  /**
   * The running `redis-server` child process.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    readonly port: number
    /** Such as `redis://127.0.0.1:PORT`. */
    readonly url: string
    /** Kills the server at once (`SIGKILL`), as a crash would; its data is gone. */
    readonly kill: Effect.Effect<void>
    /** Starts it again on the same port, once it is not running. */
    readonly restart: Effect.Effect<void, RedisServerError>
    /** Stops the server (`SIGSTOP`): connections stay open, and nothing is answered. */
    readonly pause: Effect.Effect<void>
    /** Lets a paused server carry on (`SIGCONT`). */
    readonly resume: Effect.Effect<void>
  }
}

/**
 * Starts a `redis-server` on a free loopback port, answering `PING` before it is returned and
 * killed when the scope closes. Fails with a message saying how to install Redis when
 * `redis-server` is not on the `PATH`.
 *
 * @example
 * ```ts
 * import { RedisServer } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * // A redis-server of the test's own, to stop and start again while the code under test runs.
 * const outage = Effect.gen(function*() {
 *   const redis = yield* RedisServer.make
 *   yield* redis.kill
 *   // ... the code under test carries on without its cache ...
 *   yield* redis.restart
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<RedisServer.Service, RedisServerError, Scope.Scope> = internal.make

/**
 * A `redis-server` for the lifetime of the layer.
 *
 * @example
 * ```ts
 * import { RedisServer } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const url = Effect.map(RedisServer.RedisServer, (redis) => redis.url).pipe(Effect.provide(RedisServer.layer))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<RedisServer, RedisServerError> = Layer.scoped(RedisServer, make)

/**
 * The URL of the Redis a test suite uses.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisUrl extends Context.Tag("@access-token/testing/RedisUrl")<RedisUrl, string>() {}

/**
 * Provides {@link RedisUrl}: `REDIS_URL` when set, otherwise the URL of a `redis-server` of its
 * own for the layer's lifetime.
 *
 * @example
 * ```ts
 * import { RedisServer } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * // REDIS_URL when set (CI with a Redis service), else a redis-server of the test's own.
 * const url = Effect.provide(RedisServer.RedisUrl, RedisServer.layerUrl)
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerUrl: Layer.Layer<RedisUrl, RedisServerError> = Layer.scoped(
  RedisUrl,
  Effect.suspend(() => {
    const url = process.env.REDIS_URL
    return url !== undefined && url.length > 0 ? Effect.succeed(url) : Effect.map(make, (server) => server.url)
  })
)
