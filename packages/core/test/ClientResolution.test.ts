/**
 * Clients resolved at run time (`resolveClient`): coalesced and cached resolutions, failures that
 * are not kept, `drop`, and rotation on `invalid_client` against the embedded oidc-provider.
 */
import {
  AccessToken,
  ClientResolver,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenMetrics,
  TokenService
} from "@access-token/core"
import { TokenServer } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Redacted, TestClock } from "effect"
import { cacheKey, resolve } from "../src/internal/tokenRequest.js"

const SECRET = "r3solved-Sentinel-Secret"

const endpointUrl = "https://auth.example.com/connect/token"

const tenant = (name: string, secret = SECRET): TokenService.ClientInput => ({
  tokenEndpoint: endpointUrl,
  clientId: `client-${name}`,
  clientSecret: Redacted.make(secret),
  scope: "api"
})

/** A token endpoint that counts its requests and answers each with `token-<n>`, valid for an hour. */
const countingEndpoint = () => {
  const state = { requests: 0 }
  const layer = TokenEndpointClient.layerTest(() =>
    Effect.suspend(() => {
      const n = ++state.requests
      return Effect.map(DateTime.now, (receivedAt) =>
        AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: Duration.hours(1) }))
    })
  )
  return { state, layer }
}

/** The key under which the `TokenCache` holds the own token of a client definition. */
const ownCacheKey = (name: string, input: TokenService.ClientInput) =>
  Effect.gen(function*() {
    const client = yield* TokenService.make({ clients: { [name]: input } }).pipe(
      Effect.flatMap((service) => service.client(name))
    )
    return yield* cacheKey(client, yield* resolve(client))
  })

describe("TokenService with a client resolver", () => {
  it.scoped("resolves an unknown name once for 1,000 concurrent callers, and requests one token", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let resolutions = 0
      const gate = yield* Deferred.make<void>()
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) =>
          Effect.zipRight(
            Effect.sync(() => resolutions++),
            Effect.as(Deferred.await(gate), tenant(name))
          )
      })
      const callers = yield* Effect.forEach(
        Array.from({ length: 1000 }),
        () => Effect.fork(service.getToken("acme")),
        { concurrency: "unbounded" }
      )
      // Every caller reaches the resolution under way before it completes.
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const tokens = yield* Effect.forEach(callers, (fiber) => fiber.await)
      assert.isTrue(tokens.every(Exit.isSuccess))
      assert.strictEqual(resolutions, 1)
      assert.strictEqual(endpoint.state.requests, 1)
      // Kept: a later call resolves nothing and hits the token in process.
      yield* service.getToken("acme")
      assert.strictEqual(resolutions, 1)
      assert.strictEqual(endpoint.state.requests, 1)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("labels the metrics of the first resolved clients with their names, and the others alike", () => {
    const endpoint = countingEndpoint()
    // Metrics are process-wide: names of this test only.
    const names = ["label-a", "label-b", "label-c", "label-d"].map((name) => `${name}-${Math.random()}`)
    const requestsOf = (label: string) =>
      Effect.map(Metric.value(Metric.tagged(TokenMetrics.tokenRequests, "client", label)), (state) => state.count)
    return Effect.gen(function*() {
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) => Effect.succeed(tenant(name)),
        resolvedClientLabelLimit: 2,
        resolvedClientTimeToLive: "1 second"
      })
      const shared = yield* requestsOf(ClientResolver.sharedLabel)
      for (const name of names) yield* service.getToken(name)
      assert.deepStrictEqual(yield* Effect.forEach(names, requestsOf), [1, 1, 0, 0])
      assert.strictEqual((yield* requestsOf(ClientResolver.sharedLabel)) - shared, 2)
      // A name keeps its label when it is resolved again.
      yield* TestClock.adjust("2 seconds")
      yield* service.getToken(names[0]!, { forceRenewal: true })
      assert.strictEqual(yield* requestsOf(names[0]!), 2)
      assert.strictEqual(endpoint.state.requests, 5)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("a failed resolution is a ClientResolutionError naming the client, and is not kept", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) =>
          Effect.suspend(() =>
            ++resolutions === 1
              ? Effect.fail({ _tag: "DatabaseUnavailable", connection: `postgres://tenant:${SECRET}@db` })
              : Effect.succeed(tenant(name))
          )
      })
      const error = yield* Effect.flip(service.getToken("acme"))
      assert.strictEqual(error._tag, "ClientResolutionError")
      assert.instanceOf(error, TokenError.ClientResolutionError)
      assert.strictEqual(error.message, `The definition of client "acme" could not be resolved (DatabaseUnavailable)`)
      assert.notInclude(error.message, SECRET)
      assert.isFalse(TokenError.isRetryable(error))
      assert.strictEqual(endpoint.state.requests, 0)
      // The next call resolves again, and gets its token.
      const token = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(token.value), "token-1")
      assert.strictEqual(resolutions, 2)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("a resolved definition that cannot be used fails with ClientConfigurationError", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) => Effect.succeed({ ...tenant(name), tokenEndpoint: "http://auth.example.com/token" })
      })
      const error = yield* Effect.flip(service.getToken("acme"))
      assert.strictEqual(error._tag, "ClientConfigurationError")
      assert.strictEqual(endpoint.state.requests, 0)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("a resolved definition is resolved again after its time to live", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientTimeToLive: "1 minute",
        // A new value each time, as from a database: equal field by field, it is no change.
        resolveClient: (name) =>
          Effect.sync(() => (resolutions++, { ...tenant(name), resource: ["https://api.example.com"] }))
      })
      yield* service.getToken("acme")
      yield* TestClock.adjust("2 minutes")
      yield* service.getToken("acme")
      assert.strictEqual(resolutions, 2)
      // The token outlived the definition: the new definition finds it in the TokenCache.
      assert.strictEqual(endpoint.state.requests, 1)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("a definition whose secret changed at its source never gets a token of the old secret", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let secret = "first-secret"
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientTimeToLive: "1 minute",
        resolveClient: (name) => Effect.sync(() => tenant(name, secret))
      })
      const first = yield* service.getToken("acme")
      secret = "second-secret"
      yield* TestClock.adjust("2 minutes")
      const second = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(first.value), "token-1")
      assert.strictEqual(Redacted.value(second.value), "token-2")
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("drop removes a resolved client's tokens from the TokenCache, and the next call resolves again", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      const cache = yield* TokenCache.TokenCache
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) => Effect.sync(() => (resolutions++, tenant(name)))
      })
      yield* service.getToken("acme")
      yield* service.getToken("acme", { scope: "api.read" })
      const key = yield* ownCacheKey("acme", tenant("acme"))
      assert.isTrue(Option.isSome(yield* cache.get(key)))
      assert.strictEqual(endpoint.state.requests, 2)

      yield* service.drop("acme")
      assert.isTrue(Option.isNone(yield* cache.get(key)))
      const token = yield* service.getToken("acme")
      assert.strictEqual(resolutions, 2)
      assert.strictEqual(Redacted.value(token.value), "token-3")
      // The other scope's token went too.
      const read = yield* service.getToken("acme", { scope: "api.read" })
      assert.strictEqual(Redacted.value(read.value), "token-4")
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("drop of a registered client removes its tokens and keeps its definition", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      const cache = yield* TokenCache.TokenCache
      const service = yield* TokenService.make({ clients: { billing: tenant("billing") } })
      yield* service.getToken("billing")
      const key = yield* ownCacheKey("billing", tenant("billing"))
      assert.isTrue(Option.isSome(yield* cache.get(key)))
      yield* service.drop("billing")
      assert.isTrue(Option.isNone(yield* cache.get(key)))
      const token = yield* service.getToken("billing")
      assert.strictEqual(Redacted.value(token.value), "token-2")
      // A name the service does not hold: nothing to drop.
      yield* service.drop("nobody")
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})

describe("TokenService rotation against oidc-provider", () => {
  it.live("a secret rotated at the server recovers within one acquisition, never serving the old token", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "tenant-a", clientSecret: "first-secret", scopes: ["api"] }],
        scopes: ["api"]
      })
      // The store the resolver reads, standing for a database of tenants.
      const secrets = new Map([["acme", "first-secret"]])
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) =>
          Effect.sync(() => {
            resolutions++
            return {
              tokenEndpoint: server.tokenEndpoint,
              clientId: "tenant-a",
              clientSecret: Redacted.make(secrets.get(name)!),
              scope: "api"
            }
          })
      })
      const first = yield* service.getToken("acme")

      // Rotated at the server and in the store; the service still holds the old definition.
      yield* server.setClientSecret("tenant-a", Redacted.make("second-secret"))
      secrets.set("acme", "second-secret")
      const renewed = yield* service.getToken("acme", { rejected: first })

      assert.notStrictEqual(Redacted.value(renewed.value), Redacted.value(first.value))
      assert.strictEqual(resolutions, 2)
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(requests.map((request) => [request.outcome, request.error]), [
        ["success", undefined],
        ["error", "invalid_client"],
        ["success", undefined]
      ])
      // Asked after the rotation: the token of the new secret, never the old one.
      const after = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(after.value), Redacted.value(renewed.value))
      assert.strictEqual((yield* server.tokenRequests).length, 3)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        TokenEndpointClient.layer().pipe(Layer.provide(NodeHttpClient.layerUndici)),
        TokenCache.layerMemory()
      ))
    ))

  it.live("a refusal with an unchanged definition fails with the refusal after one resolution", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "tenant-a", clientSecret: "right-secret", scopes: ["api"] }],
        scopes: ["api"]
      })
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: () =>
          Effect.sync(() => {
            resolutions++
            return {
              tokenEndpoint: server.tokenEndpoint,
              clientId: "tenant-a",
              clientSecret: Redacted.make("wrong-secret"),
              scope: "api"
            }
          })
      })
      const error = yield* Effect.flip(service.getToken("acme"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      assert.strictEqual((error as TokenError.TokenRefusedError).error, "invalid_client")
      assert.strictEqual(resolutions, 2)
      assert.strictEqual((yield* server.tokenRequests).length, 1)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        TokenEndpointClient.layer().pipe(Layer.provide(NodeHttpClient.layerUndici)),
        TokenCache.layerMemory()
      ))
    ))
})

describe("TokenService resolutions and interruption", () => {
  it.scoped("interrupting the caller that started a resolution leaves it to the others", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) =>
          Effect.zipRight(Effect.sync(() => resolutions++), Effect.as(Deferred.await(gate), tenant(name)))
      })
      const first = yield* Effect.fork(service.getToken("acme"))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      const second = yield* Effect.fork(service.getToken("acme"))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      yield* Deferred.succeed(gate, undefined)
      const token = yield* Fiber.join(second)
      assert.strictEqual(Redacted.value(token.value), "token-1")
      assert.strictEqual(resolutions, 1)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})
