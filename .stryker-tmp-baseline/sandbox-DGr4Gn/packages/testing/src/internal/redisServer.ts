// @ts-nocheck
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import * as RedisServer from "../RedisServer.js"

// A function, not a constant: this module is evaluated while `RedisServer.ts`, which defines the
// error, is still being imported.
const notInstalled = () =>
  new RedisServer.RedisServerError({
    message: "redis-server was not found on PATH. The Redis tests need a real Redis: install it " +
      "(`apt-get install -y redis-server`, `brew install redis`) or set REDIS_URL to a Redis they may use " +
      "(e.g. REDIS_URL=redis://127.0.0.1:6379 npx vitest run --project redis)"
  })

/** A free TCP port on loopback, as the kernel hands one out. */
const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
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

/** Waits until Redis answers on `port`, for at most 5 seconds. */
const waitUntilAnswering = (port: number): Effect.Effect<void, RedisServer.RedisServerError> =>
  ping(port).pipe(
    Effect.filterOrFail(
      (ok) => ok,
      () => new RedisServer.RedisServerError({ message: `nothing answers PING on port ${port}` })
    ),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.asVoid
  )

const spawnServer = (port: number): Effect.Effect<ChildProcess, RedisServer.RedisServerError> =>
  Effect.async<ChildProcess, RedisServer.RedisServerError>((resume) => {
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
            ? notInstalled()
            : new RedisServer.RedisServerError({ message: `redis-server could not be started: ${error.message}` })
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

/** @internal */
export const make: Effect.Effect<RedisServer.RedisServer.Service, RedisServer.RedisServerError, Scope.Scope> = Effect
  .gen(function*() {
    const port = yield* freePort
    let child = yield* spawnServer(port)
    yield* Effect.addFinalizer(() => Effect.suspend(() => stop(child)))
    return {
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
  })
