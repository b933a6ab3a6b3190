/**
 * No JSON the library parses can change a prototype: a member named `__proto__` in a token
 * response, an error response or a stored entry is dropped before anything copies it.
 */
// @ts-nocheck

import { AccessToken, ClientCredentialsClient, TokenCache, TokenEndpointClient } from "@access-token/core"
import { HttpClient, HttpClientResponse, KeyValueStore } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Exit, Option, Redacted, Schedule } from "effect"
import { parse } from "../src/internal/json.js"

/** Whether `value`, or anything under it, has a prototype other than the one JSON gives it. */
const polluted = (value: unknown, depth = 0): boolean => {
  if (value === null || typeof value !== "object" || depth > 10) return false
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== Array.prototype) return true
  if ("polluted" in value) return true
  return Object.values(value).some((member) => polluted(member, depth + 1))
}

const hostile = `"__proto__":{"polluted":true,"access_token":"from-the-prototype"}`

const answering = (status: number, contentType: string, body: string) =>
  TokenEndpointClient.make({ retrySchedule: Schedule.stop }).pipe(
    Effect.provideService(
      HttpClient.HttpClient,
      HttpClient.make((request) =>
        Effect.succeed(
          HttpClientResponse.fromWeb(request, new Response(body, { status, headers: { "content-type": contentType } }))
        )
      )
    )
  )

const client = ClientCredentialsClient.make({
  tokenEndpoint: "https://auth.example.com/token",
  clientId: "worker",
  clientSecret: Redacted.make("s3cr3t-sentinel")
}, "worker")

describe("parse", () => {
  it("drops __proto__ members at any depth and keeps the rest", () => {
    const value = parse(`{"a":1,${hostile},"b":{"c":[{${hostile},"d":2}]}}`)
    assert.deepStrictEqual(value, { a: 1, b: { c: [{ d: 2 }] } })
    assert.isFalse(polluted(value))
  })
})

describe("a token response with a __proto__ member", () => {
  it.effect("gives a token whose members have their own prototype", () =>
    Effect.gen(function*() {
      const endpoint = yield* answering(
        200,
        "application/json",
        `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600,${hostile},"nested":{${hostile}}}`
      )
      const token = yield* endpoint.requestToken(yield* client)
      assert.strictEqual(Redacted.value(token.value), "tok-1")
      assert.isFalse(polluted(token.extra))
      assert.deepStrictEqual(Object.keys(token.extra), ["nested"])
      assert.isFalse(polluted({}))
    }))

  it.effect("in a form-urlencoded body, is dropped too", () =>
    Effect.gen(function*() {
      const endpoint = yield* answering(
        200,
        "application/x-www-form-urlencoded",
        "access_token=tok-1&token_type=bearer&__proto__=x&team=a"
      )
      const token = yield* endpoint.requestToken(yield* client)
      assert.deepStrictEqual(Object.keys(token.extra), ["team"])
      assert.isFalse(polluted(token.extra))
    }))

  it.effect("cannot smuggle a token in through the prototype", () =>
    Effect.gen(function*() {
      const endpoint = yield* answering(200, "application/json", `{"token_type":"Bearer",${hostile}}`)
      const exit = yield* Effect.exit(endpoint.requestToken(yield* client))
      assert.isTrue(Exit.isFailure(exit))
    }))
})

describe("an error response with a __proto__ member", () => {
  it.effect("is read from its own members only", () =>
    Effect.gen(function*() {
      const endpoint = yield* answering(
        400,
        "application/json",
        `{"error":"invalid_client","__proto__":{"error_description":"from-the-prototype"}}`
      )
      const error = yield* Effect.flip(endpoint.requestToken(yield* client))
      assert.strictEqual(error._tag, "TokenRefusedError")
      if (error._tag === "TokenRefusedError") {
        assert.strictEqual(error.error, "invalid_client")
        assert.isUndefined(error.errorDescription)
      }
    }))
})

/** A stored entry as `encodeStoredToken` writes it, with `__proto__` members put in by hand. */
const hostileEntry = Effect.gen(function*() {
  const token = AccessToken.make({ value: "tok-1", receivedAt: yield* DateTime.now, expiresIn: Duration.hours(1) })
  const entry = yield* TokenCache.encodeStoredToken(token, Duration.minutes(30))
  return entry.value.replace(`"extra":{}`, `"extra":{${hostile},"team":{${hostile}}}`).replace(/^\{/, `{${hostile},`)
})

describe("a stored entry with a __proto__ member", () => {
  it.effect("decodes to a token whose members have their own prototype", () =>
    Effect.gen(function*() {
      const value = yield* hostileEntry
      assert.include(value, `"extra":{"__proto__"`)
      const token = yield* TokenCache.decodeStoredToken(value)
      assert.isTrue(Option.isSome(token))
      if (Option.isSome(token)) {
        assert.isFalse(polluted(token.value.extra))
        assert.deepStrictEqual(Object.keys(token.value.extra), ["team"])
      }
    }))

  it.effect("read back from a KeyValueStore, gives a token whose members have their own prototype", () =>
    Effect.gen(function*() {
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set(`${TokenCache.defaultKeyValueStorePrefix}api`, yield* hostileEntry)
      const cache = yield* TokenCache.makeKeyValueStore()
      const token = yield* cache.get("api")
      assert.isTrue(Option.isSome(token))
      if (Option.isSome(token)) assert.isFalse(polluted(token.value.extra))
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))
})
