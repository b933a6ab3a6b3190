/**
 * A cache is never trusted more than the wire, and never costs an acquisition: an entry that no
 * token endpoint could have sent is a miss and is removed; an operation that fails, dies or hangs
 * is a cache failure, counted, logged once per outage, and the token is requested instead.
 */
// @ts-nocheck

import {
  AccessToken,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenMetrics,
  TokenService
} from "@access-token/core"
import { KeyValueStore } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Fiber, Layer, Logger, Metric, Option, Redacted, TestClock } from "effect"

/** A token endpoint stand-in handing out `token-<n>`, valid for an hour. */
class Endpoint {
  requests = 0
  readonly layer = TokenEndpointClient.layerTest(() =>
    Effect.suspend(() => {
      const n = ++this.requests
      return Effect.map(DateTime.now, (receivedAt) =>
        AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: Duration.hours(1) }))
    })
  )
}

/** A cache whose every operation is scripted, recording what it was asked. */
class ScriptedCache {
  readonly removed: Array<string> = []
  readonly stored: Array<string> = []
  get: (key: string) => Effect.Effect<Option.Option<AccessToken.AccessToken>, TokenError.TokenCacheError> = () =>
    Effect.succeed(Option.none())
  set: Effect.Effect<void, TokenError.TokenCacheError> = Effect.void
  coordinate: TokenCache.TokenCache.Service["coordinate"] | undefined = undefined

  readonly layer = Layer.sync(TokenCache.TokenCache, () =>
    TokenCache.make({
      get: (key) => Effect.suspend(() => this.get(key)),
      set: (key) => Effect.zipRight(Effect.sync(() => void this.stored.push(key)), Effect.suspend(() => this.set)),
      remove: (key) => Effect.sync(() => void this.removed.push(key)),
      ...(this.coordinate === undefined ? {} : { coordinate: this.coordinate })
    }))
}

const service = (endpoint: Endpoint, cache: ScriptedCache, options: Partial<TokenService.Options> = {}) =>
  TokenService.make({
    clients: {
      api: {
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "api",
        clientSecret: Redacted.make("secret")
      }
    },
    ...options
  }).pipe(Effect.provide(Layer.merge(endpoint.layer, cache.layer)))

/** A token as a cache might hold it, with any field set to anything. */
const forged = (fields: Partial<Record<string, unknown>>) =>
  Effect.map(DateTime.now, (now) =>
    new AccessToken.AccessToken({
      value: Redacted.make("cached-token"),
      type: "Bearer",
      receivedAt: now,
      expiresAt: DateTime.addDuration(now, Duration.hours(1)),
      extra: {},
      ...fields
    } as never, { disableValidation: true }))

const value = (token: AccessToken.AccessToken) => Redacted.value(token.value)

const failures = Metric.tagged(TokenMetrics.cacheFailures, "client", "api")

describe("tokens read back from a TokenCache", () => {
  it.scoped("a sound cached token is served without a token request", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      const token = yield* forged({})
      cache.get = () => Effect.succeed(Option.some(token))
      const tokens = yield* service(endpoint, cache)
      assert.strictEqual(value(yield* tokens.getToken("api")), "cached-token")
      assert.strictEqual(endpoint.requests, 0)
    }))

  it.scoped("an entry no token endpoint could have sent is a miss, and is removed", () =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const invalid = [
        { value: Redacted.make("tok\r\nX-Injected: 1") },
        { value: Redacted.make("") },
        { value: "not-redacted" },
        { type: "Bearer x" },
        { type: "" },
        { receivedAt: DateTime.addDuration(now, Duration.hours(2)) },
        { expiresAt: DateTime.addDuration(now, Duration.days(30)) },
        { expiresAt: DateTime.subtractDuration(now, Duration.hours(1)) },
        { refreshAt: DateTime.addDuration(now, Duration.days(30)) },
        { scope: 42 }
      ]
      for (const fields of invalid) {
        const endpoint = new Endpoint()
        const cache = new ScriptedCache()
        const token = yield* forged(fields)
        cache.get = () => Effect.succeed(Option.some(token))
        const tokens = yield* service(endpoint, cache)
        assert.strictEqual(value(yield* tokens.getToken("api")), "token-1", JSON.stringify(Object.keys(fields)))
        assert.strictEqual(endpoint.requests, 1)
        assert.strictEqual(cache.removed.length, 1)
      }
      // Not a token at all.
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      cache.get = () => Effect.succeed(Option.some({ value: "x" } as unknown as AccessToken.AccessToken))
      assert.strictEqual(value(yield* (yield* service(endpoint, cache)).getToken("api")), "token-1")
    }))

  it.effect("a stored entry holding a value that would break a header is not decoded", () =>
    Effect.gen(function*() {
      const token = yield* forged({})
      const entry = yield* TokenCache.encodeStoredToken(token, Duration.minutes(30))
      const tampered = entry.value.replace("cached-token", "cached\\r\\nX-Injected: 1")
      assert.notStrictEqual(tampered, entry.value)
      const decoded = yield* Effect.either(TokenCache.decodeStoredToken(tampered))
      assert.strictEqual(decoded._tag, "Left")

      // Through a KeyValueStore: a miss, and the entry is gone.
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set(`${TokenCache.defaultKeyValueStorePrefix}api`, tampered)
      const cache = yield* TokenCache.makeKeyValueStore()
      assert.strictEqual((yield* Effect.either(cache.get("api")))._tag, "Left")
      assert.isTrue(Option.isNone(yield* store.get(`${TokenCache.defaultKeyValueStorePrefix}api`)))
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))
})

describe("TokenCache operations that fail, die or hang", () => {
  it.scoped("a get that dies is a cache failure, not a failed acquisition", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      cache.get = () => Effect.die(new Error("bug in a custom cache"))
      const before = (yield* Metric.value(failures)).count
      const tokens = yield* service(endpoint, cache)
      assert.strictEqual(value(yield* tokens.getToken("api")), "token-1")
      assert.strictEqual((yield* Metric.value(failures)).count - before, 1)
    }))

  it.scoped("a set that dies is a cache failure, not a failed acquisition", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      cache.set = Effect.die("boom")
      const tokens = yield* service(endpoint, cache)
      assert.strictEqual(value(yield* tokens.getToken("api")), "token-1")
      assert.deepStrictEqual(cache.stored.length, 1)
    }))

  it.scoped("a get slower than the bound is a miss: the acquisition does not wait for it", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      cache.get = () => Effect.as(Effect.sleep("2 seconds"), Option.none())
      const tokens = yield* service(endpoint, cache, { cacheTimeout: "100 millis" })
      const fiber = yield* Effect.fork(tokens.getToken("api"))
      yield* TestClock.adjust("100 millis")
      const token = yield* Fiber.join(fiber)
      assert.strictEqual(value(token), "token-1")
    }))

  it.scoped("the default bound is small", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      cache.get = () => Effect.as(Effect.never, Option.none())
      const tokens = yield* service(endpoint, cache)
      const fiber = yield* Effect.fork(tokens.getToken("api"))
      yield* TestClock.adjust(TokenCache.defaultTimeout)
      assert.strictEqual(value(yield* Fiber.join(fiber)), "token-1")
      assert.isAtMost(Duration.toMillis(TokenCache.defaultTimeout), 1000)
    }))

  it.scoped("a coordination that dies before the request starts falls back to the request", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      cache.coordinate = () => Effect.die("lock bug")
      const tokens = yield* service(endpoint, cache)
      assert.strictEqual(value(yield* tokens.getToken("api")), "token-1")
      assert.strictEqual(endpoint.requests, 1)
    }))

  it.scoped("an outage is logged once when it starts and once when it ends, and every failure counted", () =>
    Effect.gen(function*() {
      const endpoint = new Endpoint()
      const cache = new ScriptedCache()
      const logs: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => logs.push(`${logLevel.label} ${String(message)}`))
      let down = true
      const lost = new TokenError.TokenCacheError({ operation: "get", description: "connection lost" })
      cache.get = () => down ? Effect.fail(lost) : Effect.succeed(Option.none())
      cache.set = Effect.suspend(() => down ? Effect.fail(lost) : Effect.void)
      const before = (yield* Metric.value(failures)).count
      const tokens = yield* service(endpoint, cache)
      // Each acquisition asks for a token not yet in process, so each goes to the cache.
      const acquire = (n: number) =>
        tokens.getToken("api", { scope: `scope-${n}` }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      for (let n = 0; n < 5; n++) yield* acquire(n)
      down = false
      yield* acquire(5)
      yield* acquire(6)
      assert.deepStrictEqual(logs, [
        "WARN Token cache get failed: connection lost; carrying on without the cache until it answers again",
        "INFO The token cache answers again"
      ])
      // A get and a set per acquisition during the outage.
      assert.strictEqual((yield* Metric.value(failures)).count - before, 10)
    }))
})
