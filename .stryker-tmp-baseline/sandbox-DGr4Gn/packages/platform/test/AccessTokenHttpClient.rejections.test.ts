/**
 * The 401 storm guard: an API that rejects every token must not turn each call into a token
 * request, while a token revoked once is still renewed on its first 401.
 */
// @ts-nocheck

import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Logger, LogLevel, Redacted, Schedule, TestClock } from "effect"

/** A token endpoint stand-in: counts requests and hands out `token-<n>`. */
class Tokens {
  requests = 0
  readonly layer: Layer.Layer<TokenService.TokenService>

  constructor() {
    const endpoint = TokenEndpointClient.layerTest(() =>
      Effect.suspend(() => {
        const n = ++this.requests
        return Effect.map(DateTime.now, (receivedAt) =>
          AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: Duration.hours(1) }))
      })
    )
    this.layer = TokenService.layer({
      clients: {
        api: { tokenEndpoint: "https://auth.example.com/token", clientId: "api", clientSecret: Redacted.make("secret") }
      }
    }).pipe(Layer.provide(Layer.merge(endpoint, TokenCache.layerMemory())), Layer.orDie)
  }
}

/** An API stand-in that answers each request by its token. */
class Api {
  readonly seen: Array<string | undefined> = []
  status: (authorization: string | undefined) => number = () => 200

  readonly client = HttpClient.make((request) =>
    Effect.sync(() => {
      const authorization = request.headers.authorization
      this.seen.push(authorization)
      return HttpClientResponse.fromWeb(request, new Response("{}", { status: this.status(authorization) }))
    })
  )
}

/** The log lines at `Warning` and `Info`, as a person would read them. */
class Logs {
  readonly lines: Array<{ readonly level: string; readonly text: string }> = []
  readonly layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) => {
      if (LogLevel.lessThan(logLevel, LogLevel.Info)) return
      this.lines.push({
        level: logLevel.label,
        text: `${(Array.isArray(message) ? message : [message]).join(" ")} ${JSON.stringify([...annotations])}`
      })
    })
  )
  get warnings() {
    return this.lines.filter((line) => line.level === "WARN").map((line) => line.text)
  }
}

const call = <E, R>(client: HttpClient.HttpClient.With<E, R>) =>
  Effect.map(client.get("https://api.example.com/orders?id=1"), (response) => response.status)

describe("AccessTokenHttpClient after repeated 401s", () => {
  it.effect("10 sequential calls to an API that rejects every token cause at most 3 token requests", () => {
    const tokens = new Tokens()
    const logs = new Logs()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = () => 401
      const client = api.client.pipe(AccessTokenHttpClient.withAccessToken("api"))
      for (let i = 0; i < 10; i++) assert.strictEqual(yield* call(client), 401)
      assert.isAtMost(tokens.requests, 3)
      // One warning for the episode, naming the client and the API, never a token.
      assert.strictEqual(logs.warnings.length, 1)
      const [warning] = logs.warnings
      assert.include(warning, `client "api"`)
      assert.include(warning, "https://api.example.com")
      assert.notInclude(warning, "token-")
      assert.notInclude(warning, "/orders")
    }).pipe(Effect.provide(tokens.layer), Effect.provide(logs.layer))
  })

  it.effect("a token revoked once is renewed on its first 401, every time", () => {
    const tokens = new Tokens()
    const logs = new Logs()
    return Effect.gen(function*() {
      const api = new Api()
      const revoked = new Set<string>()
      api.status = (authorization) => authorization !== undefined && revoked.has(authorization) ? 401 : 200
      const client = api.client.pipe(AccessTokenHttpClient.withAccessToken("api"))
      assert.strictEqual(yield* call(client), 200)
      for (let n = 1; n <= 4; n++) {
        revoked.add(`Bearer token-${n}`)
        assert.strictEqual(yield* call(client), 200)
        assert.strictEqual(tokens.requests, n + 1)
        assert.strictEqual(yield* call(client), 200)
      }
      assert.deepStrictEqual(logs.warnings, [])
    }).pipe(Effect.provide(tokens.layer), Effect.provide(logs.layer))
  })

  it.effect("a renewed token revoked before its first use is still renewed at once", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      // token-1 is rejected, token-2 (its renewal) is accepted by the retry, then revoked.
      let revokeSecond = false
      api.status = (authorization) =>
        authorization === "Bearer token-1" || revokeSecond && authorization === "Bearer token-2" ? 401 : 200
      const client = api.client.pipe(AccessTokenHttpClient.withAccessToken("api"))
      assert.strictEqual(yield* call(client), 200)
      revokeSecond = true
      assert.strictEqual(yield* call(client), 200)
      assert.strictEqual(tokens.requests, 3)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("renewals back off on the configured schedule, and are immediate again once a token is accepted", () => {
    const tokens = new Tokens()
    const logs = new Logs()
    return Effect.gen(function*() {
      const api = new Api()
      let rejectAll = true
      api.status = () => rejectAll ? 401 : 200
      const client = api.client.pipe(
        AccessTokenHttpClient.withAccessToken({ client: "api", rejectionBackoff: Schedule.spaced("1 minute") })
      )
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 2)
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 3)
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 3)

      // The API is fixed: the next accepted response ends the episode.
      rejectAll = false
      assert.strictEqual(yield* call(client), 200)
      assert.isTrue(logs.lines.some((line) => line.level === "INFO" && line.text.includes("again")))
      assert.strictEqual(tokens.requests, 3)

      // A second episode warns again, and starts after an immediate renewal.
      rejectAll = true
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 4)
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 4)
      assert.strictEqual(logs.warnings.length, 2)
    }).pipe(Effect.provide(tokens.layer), Effect.provide(logs.layer))
  })

  it.effect("once the schedule is done, no renewal is forced by a 401 until a token is accepted", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = () => 401
      const client = api.client.pipe(
        AccessTokenHttpClient.withAccessToken({ client: "api", rejectionBackoff: Schedule.stop })
      )
      for (let i = 0; i < 5; i++) {
        assert.strictEqual(yield* call(client), 401)
        yield* TestClock.adjust("2 minutes")
      }
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("the default backoff waits seconds, not minutes, before the first renewal of an episode", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = () => 401
      const client = api.client.pipe(AccessTokenHttpClient.withAccessToken("api"))
      assert.strictEqual(yield* call(client), 401)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* call(client), 401)
      assert.strictEqual(tokens.requests, 3)
    }).pipe(Effect.provide(tokens.layer))
  })
})
