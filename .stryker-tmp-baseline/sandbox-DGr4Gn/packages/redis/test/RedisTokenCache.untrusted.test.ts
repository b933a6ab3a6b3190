/**
 * What Redis holds is trusted no more than the wire: without encryption, anyone who can write to
 * Redis can put a value there. A `__proto__` member changes no prototype, and a token that no token
 * endpoint could have sent (one that would break the `Authorization` header) is a miss and is dropped.
 */
// @ts-nocheck

import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { RedisTokenCache } from "@access-token/redis"
import { RedisServer } from "@access-token/testing"
import { assert, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import { rawClient } from "./utils/redis.js"

const hostile = `"__proto__":{"polluted":true}`

/** An entry as the cache writes it (unencrypted), for a token `value`. */
const entryFor = (value: string) =>
  Effect.gen(function*() {
    const token = AccessToken.make({ value, receivedAt: yield* DateTime.now, expiresIn: Duration.hours(1) })
    return (yield* TokenCache.encodeStoredToken(token, Duration.minutes(30))).value
  })

layer(RedisServer.layerUrl, { excludeTestServices: true, timeout: "10 seconds" })("RedisTokenCache entries", (it) => {
  it.scoped("a __proto__ member in a stored entry changes no prototype", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = `access-token-test:${crypto.randomUUID()}:`
      const raw = yield* rawClient(url)
      const cache = yield* RedisTokenCache.make({ url, prefix })
      const entry = (yield* entryFor("tok-1")).replace(`"extra":{}`, `"extra":{${hostile},"team":{${hostile}}}`)
      yield* Effect.promise(() => raw.set(`${prefix}token:api`, entry, "PX", 60_000))
      const token = yield* cache.get("api")
      assert.isTrue(Option.isSome(token))
      if (Option.isSome(token)) {
        const extra = token.value.extra as Record<string, unknown>
        assert.strictEqual(Object.getPrototypeOf(extra), Object.prototype)
        assert.deepStrictEqual(Object.keys(extra), ["team"])
        assert.strictEqual(Object.getPrototypeOf(extra.team), Object.prototype)
        assert.isFalse("polluted" in extra)
      }
    }))

  it.scoped("a stored token that would break the Authorization header is a miss, dropped, and replaced", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = `access-token-test:${crypto.randomUUID()}:`
      const raw = yield* rawClient(url)
      const cache = yield* RedisTokenCache.make({ url, prefix })
      let requests = 0
      const endpoint = TokenEndpointClient.layerTest(() =>
        Effect.suspend(() => {
          requests++
          return Effect.map(DateTime.now, (receivedAt) =>
            AccessToken.make({ value: `token-${requests}`, receivedAt, expiresIn: Duration.hours(1) }))
        })
      )
      /** A replica: a token service of its own on the shared Redis. */
      const replica = TokenService.make({
        clients: {
          worker: {
            tokenEndpoint: "https://auth.example.com/token",
            clientId: "worker",
            clientSecret: Redacted.make("s")
          }
        }
      }).pipe(Effect.provide(Layer.merge(Layer.succeed(TokenCache.TokenCache, cache), endpoint)))
      // The key the service uses: the only one it will have written.
      yield* (yield* replica).getToken("worker")
      const [key] = yield* Effect.promise(() => raw.keys(`${prefix}token:*`))
      assert.isDefined(key)
      const injected = (yield* entryFor("tok-X")).replace("tok-X", "tok\\r\\nX-Injected: 1")
      yield* Effect.promise(() => raw.set(key, injected, "PX", 60_000))

      // Another replica must not hand it out.
      const token = yield* (yield* replica).getToken("worker")
      assert.strictEqual(Redacted.value(token.value), "token-2")
      assert.notInclude(yield* Effect.promise(() => raw.get(key).then((value) => value ?? "")), "X-Injected")
    }))
})
