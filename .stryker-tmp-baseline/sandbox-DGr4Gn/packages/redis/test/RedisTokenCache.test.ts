// @ts-nocheck
import { AccessToken, ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { cacheKey, resolve } from "@access-token/core/internal/tokenRequest"
import { RedisTokenCache } from "@access-token/redis"
import { RedisServer } from "@access-token/testing"
import { assert, layer } from "@effect/vitest"
import {
  ConfigProvider,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Option,
  Redacted,
  Schedule
} from "effect"
import { Redis } from "ioredis"
import * as crypto from "node:crypto"
import { rawClient, timed } from "./utils/redis.js"

const TOKEN = "tok3n-Sentinel-Value"
const SECRET = "cl1ent-s3cr3t-Sentinel"
/** Two different 32-byte keys, in the two accepted spellings. */
const KEY_A = Redacted.make(Buffer.alloc(32, 7).toString("base64"))
const KEY_B = Redacted.make(Buffer.alloc(32, 9).toString("hex"))

/** A prefix of the test's own, so that tests never see each other's keys on a shared Redis. */
const freshPrefix = () => `access-token-test:${crypto.randomUUID()}:`

const token = (value: string, expiresIn: Duration.DurationInput = "1 hour") =>
  Effect.map(
    DateTime.now,
    (receivedAt) => AccessToken.make({ value, receivedAt, expiresIn, scope: "api", extra: { tenant: "t1" } })
  )

const valueOf = (token: AccessToken.AccessToken) => Redacted.value(token.value)

/** Every value stored under `prefix`, as raw bytes. */
const storedValues = (client: Redis, prefix: string) =>
  Effect.promise(async () => {
    const keys = await client.keys(`${prefix}*`)
    const values = await Promise.all(keys.map((key) => client.getBuffer(key)))
    return values.flatMap((value) => value === null ? [] : [value])
  })

/** A scripted token endpoint that counts its requests and issues `token-<n>`. */
const countingEndpoint = () => {
  const state = { requests: 0 }
  const layer = TokenEndpointClient.layerTest(() =>
    Effect.suspend(() => {
      const n = ++state.requests
      return token(`token-${n}`)
    })
  )
  return { state, layer }
}

const client: TokenService.ClientInput = {
  tokenEndpoint: "https://auth.example.com/connect/token",
  clientId: "worker",
  clientSecret: Redacted.make(SECRET),
  scope: "api"
}

/** The definition of {@link client}, as the service registers it. */
const clientDefinition = Effect.orDie(ClientCredentialsClient.make(client, "worker"))

/** The key under which the token service stores the client's token. */
const storedKey = Effect.flatMap(
  clientDefinition,
  (definition) => Effect.flatMap(Effect.orDie(resolve(definition)), (request) => cacheKey(definition, request))
)

/** A token service, as one replica would build it, on the given cache and endpoint. */
const service = (
  cache: TokenCache.TokenCache.Service,
  endpoint: Layer.Layer<TokenEndpointClient.TokenEndpointClient>
) =>
  TokenService.make({ clients: { worker: client } }).pipe(
    Effect.provide(Layer.merge(Layer.succeed(TokenCache.TokenCache, cache), endpoint))
  )

/** Log lines, kept to check that none of them holds a secret. */
const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.map(Logger.logfmtLogger, (line) => {
      lines.push(line)
    })
  )
  return { lines, logger }
}

layer(RedisServer.layerUrl, { excludeTestServices: true, timeout: "10 seconds" })("RedisTokenCache", (it) => {
  it.scoped("round-trips a token", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const cache = yield* RedisTokenCache.make({ url, prefix: freshPrefix(), encryptionKey: KEY_A })
      const original = yield* token(TOKEN)
      yield* cache.set("worker:abc", original, Duration.minutes(5))
      const read = Option.getOrThrow(yield* cache.get("worker:abc"))
      assert.strictEqual(valueOf(read), TOKEN)
      assert.strictEqual(read.type, "Bearer")
      assert.strictEqual(read.scope, "api")
      assert.deepStrictEqual(read.extra, { tenant: "t1" })
      assert.deepStrictEqual(read.expiresAt, original.expiresAt)
      assert.deepStrictEqual(read.receivedAt, original.receivedAt)
      yield* cache.remove("worker:abc")
      assert.isTrue(Option.isNone(yield* cache.get("worker:abc")))
      assert.isTrue(Option.isNone(yield* cache.get("worker:never-stored")))
    }))

  it.scoped("sets a time to live on write, so that Redis evicts an expired token itself", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      const cache = yield* RedisTokenCache.make({ url, prefix })
      yield* cache.set("worker:ttl", yield* token(TOKEN), Duration.millis(250))
      const ttl = yield* Effect.promise(() => raw.pttl(`${prefix}token:worker:ttl`))
      assert.isTrue(ttl > 0 && ttl <= 250, `PTTL is ${ttl}`)
      assert.isTrue(Option.isSome(yield* cache.get("worker:ttl")))
      yield* Effect.sleep("400 millis")
      assert.strictEqual(yield* Effect.promise(() => raw.exists(`${prefix}token:worker:ttl`)), 0)
      assert.isTrue(Option.isNone(yield* cache.get("worker:ttl")))
    }))

  it.scoped("with an encryption key, stores neither the token nor the client secret in clear", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const raw = yield* rawClient(url)
      const storesInClear = (encryptionKey: Redacted.Redacted<string> | undefined) =>
        Effect.gen(function*() {
          const prefix = freshPrefix()
          const cache = yield* RedisTokenCache.make({ url, prefix, encryptionKey })
          const endpoint = TokenEndpointClient.layerTest(() => token(TOKEN))
          const tokens = yield* service(cache, endpoint)
          assert.strictEqual(valueOf(yield* tokens.getToken()), TOKEN)
          const values = yield* storedValues(raw, prefix)
          assert.strictEqual(values.length, 1, "one token is stored")
          // Another replica with the same key reads it back.
          const other = yield* RedisTokenCache.make({ url, prefix, encryptionKey })
          const read = yield* other.get(yield* storedKey)
          assert.strictEqual(Option.map(read, valueOf).pipe(Option.getOrUndefined), TOKEN)
          assert.isFalse(values[0].includes(SECRET))
          return values[0].includes(TOKEN)
        })
      assert.isFalse(yield* storesInClear(KEY_A), "encrypted: the token is not in the stored bytes")
      assert.isTrue(yield* storesInClear(undefined), "unencrypted: the token is in the stored bytes")
    }))

  it.scoped("drops a corrupt entry and reports it, and the service treats it as a miss", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      const key = yield* storedKey
      for (const encryptionKey of [undefined, KEY_A]) {
        const cache = yield* RedisTokenCache.make({ url, prefix, encryptionKey })
        for (const corrupt of ["not json", "{\"token\": {}}", Buffer.alloc(40, 1).toString("base64")]) {
          yield* Effect.promise(() => raw.set(`${prefix}token:${key}`, corrupt, "PX", 60_000))
          const error = yield* Effect.flip(cache.get(key))
          assert.strictEqual(error._tag, "TokenCacheError")
          assert.strictEqual(error.operation, "get")
          assert.isFalse(error.message.includes(corrupt), "the message does not quote the value")
          assert.strictEqual(yield* Effect.promise(() => raw.exists(`${prefix}token:${key}`)), 0, "dropped")
        }
        yield* Effect.promise(() => raw.set(`${prefix}token:${key}`, "garbage", "PX", 60_000))
        const endpoint = countingEndpoint()
        const tokens = yield* service(cache, endpoint.layer)
        assert.strictEqual(valueOf(yield* tokens.getToken()), "token-1")
        assert.strictEqual(endpoint.state.requests, 1)
        yield* Effect.promise(() => raw.del(`${prefix}token:${key}`))
      }
    }))

  it.scoped("an entry written with another encryption key, or without one, is a miss", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      const withA = yield* RedisTokenCache.make({ url, prefix, encryptionKey: KEY_A })
      const withB = yield* RedisTokenCache.make({ url, prefix, encryptionKey: KEY_B })
      const plain = yield* RedisTokenCache.make({ url, prefix })
      const cases = [
        { writer: withA, reader: withB },
        { writer: withA, reader: plain },
        { writer: plain, reader: withA }
      ]
      for (const { reader, writer } of cases) {
        yield* writer.set("worker:k", yield* token(TOKEN), Duration.minutes(5))
        assert.isTrue(Option.isSome(yield* writer.get("worker:k")))
        const error = yield* Effect.flip(reader.get("worker:k"))
        assert.strictEqual(error._tag, "TokenCacheError")
        assert.isFalse(error.message.includes(TOKEN))
        assert.strictEqual(yield* Effect.promise(() => raw.exists(`${prefix}token:worker:k`)), 0, "dropped")
      }
      // A value is bound to its key: copied under another key, it does not decrypt.
      yield* withA.set("worker:k", yield* token(TOKEN), Duration.minutes(5))
      const sealed = yield* Effect.promise(() => raw.get(`${prefix}token:worker:k`))
      yield* Effect.promise(() => raw.set(`${prefix}token:other:k`, sealed!, "PX", 60_000))
      assert.strictEqual((yield* Effect.flip(withA.get("other:k")))._tag, "TokenCacheError")
    }))

  it.effect("rejects an encryption key that is not 32 bytes, without quoting it", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      for (
        const key of [
          "too-short-key-Sentinel",
          Buffer.alloc(16, 1).toString("hex"),
          Buffer.alloc(31).toString("base64")
        ]
      ) {
        const exit = yield* Effect.exit(Layer.build(RedisTokenCache.layer({ url, encryptionKey: Redacted.make(key) })))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(
          Effect.scoped(RedisTokenCache.make({ url, encryptionKey: Redacted.make(key) }))
        )
        assert.strictEqual(error._tag, "RedisConfigurationError")
        assert.strictEqual(error.field, "encryptionKey")
        assert.isFalse(error.message.includes(key))
      }
      const url32 = Buffer.alloc(32, 3).toString("base64url").replace(/=+$/, "")
      for (const key of [KEY_A, KEY_B, Redacted.make(url32)]) {
        yield* Effect.scoped(RedisTokenCache.make({ url, encryptionKey: key }))
      }
    }).pipe(Effect.scoped))

  it.scoped("reads its options from configuration", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      const context = yield* Layer.build(RedisTokenCache.layerConfig()).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["REDIS_URL", url],
            ["ACCESS_TOKEN_CACHE_ENCRYPTION_KEY", Redacted.value(KEY_B)],
            ["ACCESS_TOKEN_CACHE_PREFIX", prefix]
          ])
        ))
      )
      const cache = yield* Effect.provide(TokenCache.TokenCache, context)
      yield* cache.set("worker:config", yield* token(TOKEN), Duration.minutes(1))
      const values = yield* storedValues(raw, prefix)
      assert.strictEqual(values.length, 1)
      assert.isFalse(values[0].includes(TOKEN))
      const reader = yield* RedisTokenCache.make({ url, prefix, encryptionKey: KEY_B })
      assert.isTrue(Option.isSome(yield* reader.get("worker:config")))
    }))

  it.scoped("of concurrent coordinate calls on several connections, one requests; the others get its token", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      const replicas = yield* Effect.all(Array.from({ length: 5 }, () => RedisTokenCache.make({ url, prefix })))
      let requests = 0
      const request = (cache: TokenCache.TokenCache.Service) =>
        Effect.gen(function*() {
          const n = ++requests
          yield* Effect.sleep("200 millis")
          const issued = yield* token(`token-${n}`)
          yield* cache.set("worker:lock", issued, Duration.minutes(5))
          return issued
        })
      const results = yield* Effect.all(
        replicas.map((cache) => cache.coordinate("worker:lock", request(cache), () => true)),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(requests, 1)
      assert.deepStrictEqual(results.map(valueOf), Array(5).fill("token-1"))
      assert.strictEqual(yield* Effect.promise(() => raw.exists(`${prefix}lock:worker:lock`)), 0, "released")
    }))

  it.scoped("a waiter accepts only a token that satisfies isFresh", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const owner = yield* RedisTokenCache.make({ url, prefix })
      const waiter = yield* RedisTokenCache.make({ url, prefix })
      yield* owner.set("worker:fresh", yield* token("stale"), Duration.minutes(5))
      const started = yield* Deferred.make<void>()
      const ownerFiber = yield* owner.coordinate(
        "worker:fresh",
        Effect.gen(function*() {
          yield* Deferred.succeed(started, undefined)
          yield* Effect.sleep("200 millis")
          const issued = yield* token("fresh")
          yield* owner.set("worker:fresh", issued, Duration.minutes(5))
          return issued
        }),
        (token) => valueOf(token) !== "stale"
      ).pipe(Effect.fork)
      yield* Deferred.await(started)
      const waited = yield* waiter.coordinate("worker:fresh", token("waiter"), (token) => valueOf(token) !== "stale")
      assert.strictEqual(valueOf(waited), "fresh")
      assert.strictEqual(valueOf(yield* Fiber.join(ownerFiber)), "fresh")
    }))

  it.scoped("releases the lock only as its owner", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      const cache = yield* RedisTokenCache.make({ url, prefix })
      const lockKey = `${prefix}lock:worker:owner`
      const result = yield* cache.coordinate(
        "worker:owner",
        Effect.gen(function*() {
          const owner = yield* Effect.promise(() => raw.get(lockKey))
          assert.match(owner ?? "", /^[0-9a-f-]{36}$/, "the lock holds a value of its owner's")
          // As if the lock had expired and another replica had taken it.
          yield* Effect.promise(() => raw.set(lockKey, "another-replica", "PX", 10_000))
          return yield* token(TOKEN)
        }),
        () => true
      )
      assert.strictEqual(valueOf(result), TOKEN)
      assert.strictEqual(yield* Effect.promise(() => raw.get(lockKey)), "another-replica")
      yield* cache.coordinate("worker:owner-2", token(TOKEN), () => true)
      assert.strictEqual(yield* Effect.promise(() => raw.exists(`${prefix}lock:worker:owner-2`)), 0)
    }))

  it.scoped("when the owner fails without storing a token, a waiter takes the lock and requests", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const first = yield* RedisTokenCache.make({ url, prefix })
      const second = yield* RedisTokenCache.make({ url, prefix })
      const started = yield* Deferred.make<void>()
      const failing = Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.sleep("150 millis")),
        Effect.zipRight(Effect.fail("endpoint down" as const))
      )
      const firstFiber = yield* Effect.fork(first.coordinate("worker:fail", failing, () => true))
      yield* Deferred.await(started)
      let secondRequests = 0
      const result = yield* second.coordinate(
        "worker:fail",
        Effect.suspend(() => {
          secondRequests++
          return token("second")
        }),
        () => true
      )
      assert.strictEqual(valueOf(result), "second")
      assert.strictEqual(secondRequests, 1)
      assert.deepStrictEqual(yield* Fiber.join(firstFiber).pipe(Effect.flip), "endpoint down")
    }))

  it.scoped("a waiter requests a token itself once waitTimeout has passed", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = freshPrefix()
      const raw = yield* rawClient(url)
      yield* Effect.promise(() => raw.set(`${prefix}lock:worker:stuck`, "a-replica-that-hangs", "PX", 10_000))
      const cache = yield* RedisTokenCache.make({ url, prefix, waitTimeout: "300 millis" })
      const logs = captureLogs()
      const [millis, result] = yield* timed(
        cache.coordinate("worker:stuck", token(TOKEN), () => true).pipe(Effect.provide(logs.logger))
      )
      assert.strictEqual(valueOf(result), TOKEN)
      assert.isTrue(millis >= 300 && millis < 2_000, `took ${millis} ms`)
      assert.isTrue(logs.lines.some((line) => line.includes("level=WARN")), "the timeout is logged")
    }))

  it.scoped("with Redis unreachable, builds, misses at once and runs the request itself", () =>
    Effect.gen(function*() {
      const stopped = yield* RedisServer.make
      yield* stopped.kill
      const port = stopped.port
      const logs = captureLogs()
      const cache = yield* RedisTokenCache.make({ url: `redis://127.0.0.1:${port}`, encryptionKey: KEY_A })
      const [millis, error] = yield* timed(Effect.flip(cache.get("worker:down")))
      assert.strictEqual(error._tag, "TokenCacheError")
      assert.isTrue(millis < 1_500, `get took ${millis} ms`)
      assert.strictEqual(
        (yield* Effect.flip(cache.set("worker:down", yield* token(TOKEN), Duration.minutes(1))))._tag,
        "TokenCacheError"
      )
      const result = yield* cache.coordinate("worker:down", token(TOKEN), () => true).pipe(Effect.provide(logs.logger))
      assert.strictEqual(valueOf(result), TOKEN)
      // The token service reports the outage, once: the cache itself does not, on every call.
      assert.isFalse(logs.lines.some((line) => line.includes("level=WARN")))
      assert.isFalse(logs.lines.some((line) => line.includes(TOKEN)))
    }))

  it.scoped("closes a connection it opened, and never one it was given", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const raw = yield* rawClient(url)
      const connected = (name: string) =>
        Effect.promise(() => raw.client("LIST") as Promise<string>).pipe(
          Effect.map((list) => list.includes(`name=${name} `))
        )

      const givenName = `given-${crypto.randomUUID()}`
      const given = new Redis(url, { enableOfflineQueue: false, connectionName: givenName })
      given.on("error", () => undefined)
      yield* Effect.addFinalizer(() => Effect.sync(() => given.disconnect()))
      const listeners = given.listenerCount("error")
      yield* Effect.scoped(Effect.gen(function*() {
        const cache = yield* RedisTokenCache.makeFromClient(given, { prefix: freshPrefix() })
        yield* cache.set("worker:given", yield* token(TOKEN), Duration.seconds(5))
        assert.isTrue(Option.isSome(yield* cache.get("worker:given")))
      }))
      assert.strictEqual(yield* Effect.promise(() => given.ping()), "PONG")
      assert.isTrue(yield* connected(givenName))
      assert.strictEqual(given.listenerCount("error"), listeners, "the cache's listeners are removed")

      const ownName = `own-${crypto.randomUUID()}`
      yield* Effect.scoped(Effect.gen(function*() {
        const cache = yield* RedisTokenCache.make({
          url,
          prefix: freshPrefix(),
          redisOptions: { connectionName: ownName }
        })
        yield* cache.set("worker:own", yield* token(TOKEN), Duration.seconds(5))
        assert.isTrue(yield* connected(ownName))
      }))
      yield* connected(ownName).pipe(
        Effect.filterOrFail((isConnected) => !isConnected, () => "still connected"),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("2 seconds")))
      )
    }))
})

layer(Layer.empty, { excludeTestServices: true, timeout: "30 seconds" })("RedisTokenCache outage", (it) => {
  const logs = captureLogs()
  it.scoped(
    "a Redis outage never fails a token request, and replicas share tokens again once Redis is back",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make
        const prefix = freshPrefix()
        const options = { url: server.url, prefix, encryptionKey: KEY_A, commandTimeout: "300 millis" } as const
        const cacheA = yield* RedisTokenCache.make(options)
        const cacheB = yield* RedisTokenCache.make(options)
        const endpoint = countingEndpoint()
        const replicaA = yield* service(cacheA, endpoint.layer)
        const replicaB = yield* service(cacheB, endpoint.layer)
        const getToken = (replica: TokenService.TokenService.Service, scope: string) =>
          Effect.gen(function*() {
            const [millis, token] = yield* timed(replica.getToken("worker", { scope }))
            assert.isTrue(millis < 1_500, `a token took ${millis} ms`)
            return valueOf(token)
          })

        // Shared: B gets the token A requested.
        assert.strictEqual(yield* getToken(replicaA, "before"), "token-1")
        assert.strictEqual(yield* getToken(replicaB, "before"), "token-1")
        assert.strictEqual(endpoint.state.requests, 1)

        // Down: each replica requests its own tokens, every time in bounded time.
        yield* server.kill
        assert.strictEqual(yield* getToken(replicaA, "during"), "token-2")
        assert.strictEqual(yield* getToken(replicaB, "during"), "token-3")
        assert.strictEqual(yield* getToken(replicaA, "during-2"), "token-4")
        assert.strictEqual(endpoint.state.requests, 4)

        // Back on the same port: once both have reconnected, B again gets the token A requested.
        yield* server.restart
        const reconnected = (cache: TokenCache.TokenCache.Service) =>
          cache.get("worker:probe").pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("5 seconds"))))
        yield* reconnected(cacheA)
        yield* reconnected(cacheB)
        assert.strictEqual(yield* getToken(replicaA, "after"), "token-5")
        assert.strictEqual(yield* getToken(replicaB, "after"), "token-5")
        assert.strictEqual(endpoint.state.requests, 5)

        assert.isTrue(logs.lines.some((line) => line.includes("level=WARN")), "the outage is logged")
        for (const line of logs.lines) {
          assert.isFalse(/token-\d/.test(line) || line.includes(SECRET) || line.includes(Redacted.value(KEY_A)), line)
        }
      }).pipe(Effect.provide(logs.logger))
  )

  it.scoped("a Redis that stops answering costs each command at most commandTimeout, and leaves no lock behind", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.make
      const prefix = freshPrefix()
      const raw = yield* rawClient(server.url)
      const cache = yield* RedisTokenCache.make({ url: server.url, prefix, commandTimeout: "200 millis" })
      yield* cache.set("worker:slow", yield* token(TOKEN), Duration.minutes(1))

      yield* server.pause
      const [getMillis, error] = yield* timed(Effect.flip(cache.get("worker:slow")))
      assert.strictEqual(error._tag, "TokenCacheError")
      assert.isTrue(getMillis < 1_000, `get took ${getMillis} ms`)
      const [coordinateMillis, result] = yield* timed(
        cache.coordinate("worker:slow", token("own"), () => true).pipe(Effect.provide(logs.logger))
      )
      assert.strictEqual(valueOf(result), "own")
      assert.isTrue(coordinateMillis < 1_000, `coordinate took ${coordinateMillis} ms`)

      // The lock command Redis receives on waking up is followed by its release.
      yield* server.resume
      yield* Effect.promise(() => raw.ping())
      assert.strictEqual(yield* Effect.promise(() => raw.exists(`${prefix}lock:worker:slow`)), 0)
      assert.strictEqual(valueOf(Option.getOrThrow(yield* cache.get("worker:slow"))), TOKEN)
    }))
})
