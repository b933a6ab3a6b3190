// @ts-nocheck
import { AccessToken, TokenCache } from "@access-token/core"
import { FileSystem, KeyValueStore } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, Redacted, TestClock } from "effect"

const token = (value: string) =>
  Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value, receivedAt, expiresIn: "1 hour", scope: "api" }))

const valueOf = (option: Option.Option<AccessToken.AccessToken>) =>
  Option.getOrUndefined(Option.map(option, (token) => Redacted.value(token.value)))

describe("TokenCache.layerMemory", () => {
  it.effect("stores a token until its time to live runs out", () =>
    Effect.gen(function*() {
      const cache = yield* TokenCache.makeMemory()
      yield* cache.set("k", yield* token("a"), Duration.seconds(10))
      assert.strictEqual(valueOf(yield* cache.get("k")), "a")
      yield* TestClock.adjust(Duration.millis(9999))
      assert.strictEqual(valueOf(yield* cache.get("k")), "a")
      yield* TestClock.adjust(Duration.millis(1))
      assert.isTrue(Option.isNone(yield* cache.get("k")))
    }))

  it.effect("remove forgets a token", () =>
    Effect.gen(function*() {
      const cache = yield* TokenCache.makeMemory()
      yield* cache.set("k", yield* token("a"), Duration.seconds(10))
      yield* cache.remove("k")
      assert.isTrue(Option.isNone(yield* cache.get("k")))
    }))

  it.effect("stays within its capacity, dropping expired entries first, then the least recently used", () =>
    Effect.gen(function*() {
      const cache = yield* TokenCache.makeMemory({ capacity: 3 })
      yield* cache.set("short", yield* token("short"), Duration.seconds(1))
      yield* cache.set("a", yield* token("a"), Duration.hours(1))
      yield* cache.set("b", yield* token("b"), Duration.hours(1))
      yield* TestClock.adjust(Duration.seconds(2))
      yield* cache.set("c", yield* token("c"), Duration.hours(1))
      assert.strictEqual(valueOf(yield* cache.get("a")), "a")
      // full with a, b, c; "a" was read last, so "b" is the least recently used
      yield* cache.set("d", yield* token("d"), Duration.hours(1))
      assert.isTrue(Option.isNone(yield* cache.get("b")))
      assert.deepStrictEqual(
        [valueOf(yield* cache.get("a")), valueOf(yield* cache.get("c")), valueOf(yield* cache.get("d"))],
        ["a", "c", "d"]
      )
    }))

  it.effect("coordinate runs the request as is", () =>
    Effect.gen(function*() {
      const cache = yield* TokenCache.makeMemory()
      const result = yield* cache.coordinate("k", token("fresh"), () => true)
      assert.strictEqual(Redacted.value(result.value), "fresh")
    }))
})

describe("TokenCache.layerKeyValueStore", () => {
  it.effect("round-trips a token, with its expiry honoured on read", () =>
    Effect.gen(function*() {
      const cache = yield* TokenCache.makeKeyValueStore()
      const original = yield* token("kv-token")
      yield* cache.set("api:1", original, Duration.minutes(5))
      const read = yield* cache.get("api:1")
      assert.isTrue(Option.isSome(read))
      const restored = Option.getOrThrow(read)
      assert.strictEqual(Redacted.value(restored.value), "kv-token")
      assert.strictEqual(restored.scope, "api")
      assert.deepStrictEqual(restored.expiresAt, original.expiresAt)
      yield* TestClock.adjust(Duration.minutes(5))
      assert.isTrue(Option.isNone(yield* cache.get("api:1")))
      const store = yield* KeyValueStore.KeyValueStore
      assert.isTrue(Option.isNone(yield* store.get("access-token/api:1")), "an expired entry is dropped")
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))

  it.effect("drops a corrupt entry and reports it, rather than returning it", () =>
    Effect.gen(function*() {
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("access-token/api:1", "{\"token\": \"not a token\"")
      const cache = yield* TokenCache.makeKeyValueStore()
      const error = yield* Effect.flip(cache.get("api:1"))
      assert.strictEqual(error._tag, "TokenCacheError")
      assert.strictEqual(error.message, "Token cache get failed: dropped an entry that could not be decoded")
      assert.isTrue(Option.isNone(yield* store.get("access-token/api:1")))
    }).pipe(Effect.provide(KeyValueStore.layerMemory)))

  it.scoped("round-trips a token through a real file-system store, as a restarted worker would", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const directory = yield* fs.makeTempDirectoryScoped()
      const store = KeyValueStore.layerFileSystem(directory)
      const original = yield* token("file-token")
      const key = "api:0123456789abcdef"
      yield* Effect.flatMap(TokenCache.makeKeyValueStore(), (cache) => cache.set(key, original, Duration.minutes(5)))
        .pipe(
          Effect.provide(store)
        )
      const files = yield* fs.readDirectory(directory)
      assert.strictEqual(files.length, 1)
      const content = yield* fs.readFileString(`${directory}/${files[0]}`)
      assert.include(content, "file-token")
      // a second "process": a new store on the same directory
      const read = yield* Effect.flatMap(TokenCache.makeKeyValueStore(), (cache) => cache.get(key)).pipe(
        Effect.provide(store)
      )
      assert.strictEqual(valueOf(read), "file-token")
    }).pipe(Effect.provide(Layer.mergeAll(NodeContext.layer))))
})

describe("TokenCache stored-token codec", () => {
  it.effect("an encoded token decodes to itself until its time to live runs out, then to a miss", () =>
    Effect.gen(function*() {
      const original = yield* token("codec-token")
      const entry = yield* TokenCache.encodeStoredToken(original, Duration.millis(1500.2))
      assert.strictEqual(Duration.toMillis(entry.timeToLive), 1501, "rounded up to whole milliseconds")
      const decoded = yield* TokenCache.decodeStoredToken(entry.value)
      assert.strictEqual(valueOf(decoded), "codec-token")
      assert.strictEqual(Option.getOrUndefined(decoded)?.scope, "api")
      yield* TestClock.adjust(Duration.millis(1500))
      assert.isTrue(Option.isSome(yield* TokenCache.decodeStoredToken(entry.value)))
      yield* TestClock.adjust(Duration.millis(1))
      assert.isTrue(Option.isNone(yield* TokenCache.decodeStoredToken(entry.value)))
    }))

  it.effect("an infinite time to live is written as a day", () =>
    Effect.gen(function*() {
      const entry = yield* TokenCache.encodeStoredToken(yield* token("forever"), Duration.infinity)
      assert.isTrue(Duration.equals(entry.timeToLive, Duration.days(1)))
    }))

  it.effect("an entry that cannot be decoded fails without quoting it", () =>
    Effect.gen(function*() {
      for (const value of ["not json", "{\"token\":{}}", "{\"token\":{\"value\":\"leak-me\"},\"expiresAt\":1}"]) {
        const error = yield* Effect.flip(TokenCache.decodeStoredToken(value))
        assert.strictEqual(error._tag, "TokenCacheError")
        assert.strictEqual(error.operation, "get")
        assert.notInclude(error.message, "leak-me")
      }
    }))
})
