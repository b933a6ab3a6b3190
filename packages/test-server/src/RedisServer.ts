/**
 * Redis for tests: the one `REDIS_URL` names, or a `redis-server` started on a free loopback port
 * (never the default 6379, which may be someone else's).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"

/**
 * @since 0.1.0
 * @category errors
 */
export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

const notInstalled = new RedisServerError({
  message: "redis-server was not found on PATH. The Redis tests need a real Redis: install it " +
    "(`apt-get install -y redis-server`, `brew install redis`) or set REDIS_URL to a Redis they may use " +
    "(e.g. REDIS_URL=redis://127.0.0.1:6379 npx vitest run --project redis)"
})

/**
 * A free TCP port on loopback, as the kernel hands one out.
 *
 * @since 0.1.0
 * @category utils
 */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Whether something on `port` answers `PING` with `+PONG`. */
const ping = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    let answer = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resume(Effect.succeed(ok))
    }
    socket.setTimeout(500, () => done(false))
    socket.on("error", () => done(false))
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      answer += chunk.toString("utf8")
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"))
    })
    return Effect.sync(() => socket.destroy())
  })

/**
 * Waits until Redis answers on `port`, for at most 5 seconds.
 *
 * @since 0.1.0
 * @category utils
 */
export const waitUntilAnswering = (port: number): Effect.Effect<void, RedisServerError> =>
  ping(port).pipe(
    Effect.filterOrFail((ok) => ok, () => new RedisServerError({ message: `nothing answers PING on port ${port}` })),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.asVoid
  )

/**
 * A `redis-server` child process that a test can kill and start again on the same port.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisServer {
  readonly port: number
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

const spawnServer = (port: number): Effect.Effect<ChildProcess, RedisServerError> =>
  Effect.async<ChildProcess, RedisServerError>((resume) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout?.on("data", (chunk) => (output += chunk.toString("utf8")))
    child.stderr?.on("data", (chunk) => (output += chunk.toString("utf8")))
    child.once("error", (error: NodeJS.ErrnoException) =>
      resume(
        Effect.fail(
          error.code === "ENOENT"
            ? notInstalled
            : new RedisServerError({ message: `redis-server could not be started: ${error.message}` })
        )
      ))
    child.once("spawn", () => {
      child.once("exit", (code, signal) => {
        if (signal === null) console.error(`redis-server on port ${port} exited with ${code}:\n${output}`)
      })
      resume(Effect.succeed(child))
    })
  }).pipe(Effect.tap(() => waitUntilAnswering(port)))

const stop = (child: ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

/**
 * Starts a `redis-server` of the test's own on a free port, killed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = Effect.gen(function*() {
  const port = yield* freePort
  let child = yield* spawnServer(port)
  yield* Effect.addFinalizer(() => Effect.suspend(() => stop(child)))
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: Effect.suspend(() => stop(child)),
    restart: Effect.suspend(() => spawnServer(port)).pipe(
      Effect.tap((next) => {
        child = next
      }),
      Effect.asVoid
    ),
    pause: Effect.sync(() => {
      child.kill("SIGSTOP")
    }),
    resume: Effect.sync(() => {
      child.kill("SIGCONT")
    })
  }
  return server
})

/**
 * The Redis a test suite uses: `REDIS_URL` when set, otherwise its own `redis-server`.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisUrl extends Context.Tag("@access-token/test-server/RedisUrl")<RedisUrl, string>() {}

/**
 * Provides {@link RedisUrl}: `REDIS_URL` when set, otherwise a `redis-server` of its own for the
 * layer's lifetime.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RedisUrl, RedisServerError> = Layer.scoped(
  RedisUrl,
  Effect.suspend(() => {
    const url = process.env.REDIS_URL
    return url !== undefined && url.length > 0 ? Effect.succeed(url) : Effect.map(start, (server) => server.url)
  })
)
