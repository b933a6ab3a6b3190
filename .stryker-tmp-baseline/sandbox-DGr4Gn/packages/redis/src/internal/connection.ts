// @ts-nocheck
import { TokenCacheError } from "@access-token/core/TokenError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"

/** Deletes a key only if it still holds the value the caller read or wrote. */
export const compareAndDelete =
  `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`

/** What went wrong with a command, without its arguments, which may hold a token. */
export const describeFailure = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { readonly code?: unknown }).code
    const text = typeof code === "string" && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message
    return text.length > 200 ? `${text.slice(0, 200)}...` : text
  }
  return "unknown failure"
}

/**
 * Notes when the connection is lost and when it is back, once each per outage, and keeps ioredis
 * from reporting an `error` event that nobody listens to. At debug level: the token service warns
 * once when the cache stops answering and says when it is back, with the failure that it saw.
 */
const watch = (client: Redis): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    let lost = false
    const onError = (error: unknown) => {
      if (lost) return
      lost = true
      runFork(
        Effect.logDebug(
          `Redis token cache connection failed (${
            describeFailure(error)
          }); each replica requests its own tokens until it is back`
        )
      )
    }
    const onReady = () => {
      if (!lost) return
      lost = false
      runFork(Effect.logDebug("Redis token cache connection restored"))
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

/** Sends one command; its failures say which, never with its arguments. */
export type Run = <A>(
  operation: TokenCacheError["operation"],
  command: string,
  send: (client: Redis) => Promise<A>
) => Effect.Effect<A, TokenCacheError>

/**
 * The cache's way of sending commands on `client`, watched for the scope: a command waits for a
 * connection being opened, fails at once while Redis is unreachable (so that none is queued to run
 * later), and fails after `commandTimeout` without an answer.
 */
export const commands = (client: Redis, commandTimeout: Duration.Duration): Effect.Effect<Run, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* watch(client)

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

    const run: Run = (operation, command, send) =>
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
    return run
  })

/**
 * A connection of the cache's own, opened now and closed with the scope: `QUIT` if Redis answers
 * within `commandTimeout`, then disconnected in any case.
 */
export const open = (
  url: string | Redacted.Redacted<string> | undefined,
  redisOptions: RedisOptions,
  commandTimeout: Duration.Duration
): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const address = url === undefined ? undefined : Redacted.isRedacted(url) ? Redacted.value(url) : url
      const client = address === undefined ? new Redis(redisOptions) : new Redis(address, redisOptions)
      // The connection is the cache's own: no error event of it may go unhandled.
      client.on("error", () => undefined)
      return client
    }),
    (client) =>
      Effect.promise(() => client.quit().catch(() => undefined)).pipe(
        Effect.timeout(commandTimeout),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => client.disconnect()))
      )
  )
