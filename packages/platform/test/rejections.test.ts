/**
 * The guard against 401 storms, on its own: when a renewal after a 401 may go to the token
 * endpoint, and what the person reading the logs is told.
 */
import { AccessToken } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Logger, LogLevel, Schedule, TestClock } from "effect"
import * as Rejections from "../src/internal/rejections.js"

const API = "https://api.example.com"

const token = (value: string) => AccessToken.make({ value, receivedAt: DateTime.unsafeMake(0), expiresIn: "1 hour" })

/** The log lines at `Info` and above, with their level and annotations. */
class Logs {
  readonly lines: Array<{ readonly level: string; readonly message: string; readonly client: unknown }> = []
  readonly layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) => {
      if (LogLevel.lessThan(logLevel, LogLevel.Info)) return
      this.lines.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).join(" "),
        client: annotations.pipe((map) => [...map].find(([key]) => key === "client")?.[1])
      })
    })
  )
}

describe("Rejections.make", () => {
  it.effect("a 401 to a token not renewed after a 401 may renew at once, every time, and logs nothing", () => {
    const logs = new Logs()
    return Effect.gen(function*() {
      const guard = Rejections.make(Schedule.spaced("1 minute"), "api")
      assert.isTrue(guard.isQuiet())
      for (let i = 0; i < 3; i++) assert.isTrue(yield* guard.rejected(token(`revoked-${i}`), API))
      assert.isTrue(guard.isQuiet())
      assert.deepStrictEqual(logs.lines, [])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a renewed token waits to be accepted; once it is, the guard is quiet again", () =>
    Effect.gen(function*() {
      const guard = Rejections.make(Schedule.spaced("1 minute"), "api")
      guard.renewed(token("renewed"))
      assert.isFalse(guard.isQuiet())
      // Another token accepted says nothing about the renewed one.
      yield* guard.accepted(token("other"), API)
      assert.isFalse(guard.isQuiet())
      // The same token, as another value of it (from the cache, say), is accepted.
      yield* guard.accepted(token("renewed"), API)
      assert.isTrue(guard.isQuiet())
      // Accepted, it is renewed at once on its next 401: it was revoked, not refused from the start.
      assert.isTrue(yield* guard.rejected(token("renewed"), API))
    }))

  it.effect("a renewed token rejected too starts an episode: renewals wait for the schedule, and one warning", () => {
    const logs = new Logs()
    return Effect.gen(function*() {
      // Not at time zero, where the delay before the next renewal would equal its time.
      yield* TestClock.adjust("1 hour")
      const guard = Rejections.make(Schedule.spaced("1 minute"), "billing")
      const renewed = token("renewed")
      guard.renewed(renewed)
      assert.isFalse(yield* guard.rejected(token("renewed"), API))
      assert.isFalse(guard.isQuiet())
      assert.deepStrictEqual(logs.lines, [{
        level: "WARN",
        message: `The API at ${API} rejects freshly renewed access tokens of client "billing" (HTTP 401): ` +
          `renewals after a 401 wait 1m and more until it accepts one; meanwhile the 401 goes back to the caller`,
        client: "billing"
      }])
      // Any token, renewed or not, waits during the episode.
      assert.isFalse(yield* guard.rejected(token("other"), API))
      yield* TestClock.adjust("59 seconds")
      assert.isFalse(yield* guard.rejected(renewed, API))
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* guard.rejected(renewed, API))
      // That renewal takes the next minute's turn.
      assert.isFalse(yield* guard.rejected(renewed, API))
      yield* TestClock.adjust("1 minute")
      assert.isTrue(yield* guard.rejected(renewed, API))
      assert.strictEqual(logs.lines.length, 1)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("an accepted response ends the episode, with one line saying so", () => {
    const logs = new Logs()
    return Effect.gen(function*() {
      const guard = Rejections.make(Schedule.spaced("1 minute"), "billing")
      guard.renewed(token("renewed"))
      assert.isFalse(yield* guard.rejected(token("renewed"), API))
      yield* guard.accepted(token("renewed"), API)
      assert.isTrue(guard.isQuiet())
      assert.deepStrictEqual(logs.lines.slice(1), [{
        level: "INFO",
        message: `The API at ${API} accepts the access tokens of client "billing" again; ` +
          `a 401 renews the token at once again`,
        client: "billing"
      }])
      // A 401 renews at once again, and an accepted response with no episode says nothing.
      assert.isTrue(yield* guard.rejected(token("renewed"), API))
      yield* guard.accepted(token("renewed"), API)
      assert.strictEqual(logs.lines.length, 2)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("once the schedule is done, no 401 renews until a token is accepted", () => {
    const logs = new Logs()
    return Effect.gen(function*() {
      const guard = Rejections.make(Schedule.stop, "api")
      guard.renewed(token("renewed"))
      assert.isFalse(yield* guard.rejected(token("renewed"), API))
      assert.include(logs.lines[0]!.message, "(HTTP 401): no further renewal is forced by a 401 until it accepts one")
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("1 hour")
        assert.isFalse(yield* guard.rejected(token("renewed"), API))
      }
      yield* guard.accepted(token("renewed"), API)
      assert.isTrue(yield* guard.rejected(token("renewed"), API))
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a schedule that does not wait lets the renewal go at once, then stops when it is done", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 hour")
      const guard = Rejections.make(Schedule.recurs(1), "api")
      guard.renewed(token("renewed"))
      assert.isTrue(yield* guard.rejected(token("renewed"), API))
      assert.isTrue(yield* guard.rejected(token("renewed"), API))
      assert.isFalse(yield* guard.rejected(token("renewed"), API))
      yield* TestClock.adjust("1 hour")
      assert.isFalse(yield* guard.rejected(token("renewed"), API))
    }))
})
