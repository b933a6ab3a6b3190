/**
 * Clients resolved at run time (`resolveClient`): coalesced and cached resolutions, failures that
 * are not kept, `drop`, and rotation on `invalid_client` against the embedded oidc-provider.
 */
// @ts-nocheck

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
import {
  DateTime,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Metric,
  Option,
  Redacted,
  Schedule,
  TestClock
} from "effect"
import * as Crypto from "node:crypto"
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

  it.scoped("keeps at most resolvedClientCapacity definitions, a definition read since the last eviction kept", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      const resolved: Array<string> = []
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientCapacity: 2,
        resolveClient: (name) => Effect.sync(() => (resolved.push(name), tenant(name)))
      })
      yield* service.getToken("a")
      yield* service.getToken("b")
      // Read again: when "c" makes room, "b" goes, not "a".
      yield* service.getToken("a")
      yield* service.getToken("c")
      yield* service.getToken("a")
      yield* service.getToken("b")
      assert.deepStrictEqual(resolved, ["a", "b", "c", "b"])
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

  it.scoped("a call for another scope resolves again after the time to live, as the client's own does", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let secret = "first-secret"
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientTimeToLive: "1 minute",
        resolveClient: (name) => Effect.sync(() => tenant(name, secret))
      })
      const read = { scope: "api.read" }
      const first = yield* service.getToken("acme", read)
      assert.strictEqual(Redacted.value((yield* service.getToken("acme", { scope: "api.read" })).value), "token-1")
      secret = "second-secret"
      yield* TestClock.adjust("2 minutes")
      const second = yield* service.getToken("acme", read)
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

/** A token endpoint that records the secret of every request and answers `token-<n>`, valid for an hour. */
const recordingEndpoint = () => {
  const secrets: Array<string | undefined> = []
  const layer = TokenEndpointClient.layerTest((client) =>
    Effect.suspend(() => {
      secrets.push(client.clientSecret === undefined ? undefined : Redacted.value(client.clientSecret))
      const n = secrets.length
      return Effect.map(DateTime.now, (receivedAt) =>
        AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: Duration.hours(1) }))
    })
  )
  return { secrets, layer }
}

describe("TokenService drop during a resolution", () => {
  it.scoped("a resolution under way when its client is dropped is never kept: no definition of before the drop is used", () => {
    const endpoint = recordingEndpoint()
    return Effect.gen(function*() {
      // The store the resolver reads, standing for a database of tenants.
      let secret = "s1"
      let resolutions = 0
      const gate = yield* Deferred.make<void>()
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) =>
          Effect.suspend(() => {
            const read = tenant(name, secret)
            // The first resolution read s1, and is slow to complete.
            return ++resolutions === 1 ? Effect.as(Deferred.await(gate), read) : Effect.succeed(read)
          })
      })
      const before = yield* Effect.fork(service.getToken("acme"))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      // The secret changes at its source, and the tenant is dropped while s1's resolution is under way.
      secret = "s2"
      yield* service.drop("acme")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(before)
      const after = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(after.value), `token-${endpoint.secrets.length}`)
      const held = yield* service.client("acme")
      assert.strictEqual(Redacted.value(held.clientSecret!), "s2")
      // No token was ever requested with the definition read before the drop.
      assert.deepStrictEqual(endpoint.secrets, ["s2"])
      assert.strictEqual(resolutions, 2)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})

const ecKey = () => Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const pemOf = (pair: Crypto.KeyPairKeyObjectResult) =>
  pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string
const jwkOf = (pair: Crypto.KeyPairKeyObjectResult) => pair.privateKey.export({ format: "jwk" }) as JsonWebKey
/** A new extractable `CryptoKey` of the same key, as a resolver that imports it on each call makes. */
const cryptoKeyOf = (pair: Crypto.KeyPairKeyObjectResult) =>
  Effect.promise(() =>
    globalThis.crypto.subtle.importKey("jwk", jwkOf(pair), { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])
  )

/** Each way a resolver may give a tenant's key, built anew on every resolution as from a store. */
const keyTenants: ReadonlyArray<
  readonly [label: string, input: (pair: Crypto.KeyPairKeyObjectResult) => Effect.Effect<TokenService.ClientInput>]
> = [
  ["private_key_jwt, key as PEM", (pair) =>
    Effect.sync(() => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(pair)), audience: "tokenEndpoint" }
    }))],
  ["private_key_jwt, key as a PEM on one line with \\n escapes", (pair) =>
    Effect.sync(() => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      authentication: {
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(pair).replace(/\n/g, "\\n")),
        audience: "tokenEndpoint"
      }
    }))],
  ["private_key_jwt, key as JWK text", (pair) =>
    Effect.sync(() => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      authentication: {
        method: "private_key_jwt",
        privateKey: Redacted.make(JSON.stringify(jwkOf(pair))),
        audience: "tokenEndpoint"
      }
    }))],
  ["private_key_jwt, key as JWK object", (pair) =>
    Effect.sync(() => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      authentication: { method: "private_key_jwt", privateKey: Redacted.make(jwkOf(pair)), audience: "tokenEndpoint" }
    }))],
  ["private_key_jwt, key as a CryptoKey imported anew", (pair) =>
    Effect.map(cryptoKeyOf(pair), (privateKey) => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      authentication: { method: "private_key_jwt", privateKey, audience: "tokenEndpoint" }
    }))],
  ["the JWT bearer grant, key as PEM", (pair) =>
    Effect.sync(() => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      grant: { privateKey: Redacted.make(pemOf(pair)), subject: "user", audience: "tokenEndpoint" }
    }))],
  ["client_secret_jwt", () =>
    Effect.sync(() => ({
      tokenEndpoint: endpointUrl,
      clientId: "tenant",
      clientSecret: Redacted.make(SECRET),
      authentication: { method: "client_secret_jwt", lifetime: "30 seconds", audience: "tokenEndpoint" }
    }))]
]

describe("TokenService with tenants that authenticate with a key", () => {
  for (const [label, input] of keyTenants) {
    it.scoped(`${label}: an unchanged definition resolved again after its time to live keeps its token`, () => {
      const endpoint = countingEndpoint()
      const pair = ecKey()
      return Effect.gen(function*() {
        let resolutions = 0
        const service = yield* TokenService.make({
          clients: {},
          resolvedClientTimeToLive: "1 minute",
          resolveClient: () => Effect.tap(input(pair), () => resolutions++)
        })
        yield* service.getToken("acme")
        yield* TestClock.adjust("2 minutes")
        yield* service.getToken("acme")
        assert.strictEqual(resolutions, 2)
        assert.strictEqual(endpoint.state.requests, 1)
      }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
    })
  }

  it.scoped("a key that really changed at its source counts as a change: the old key's token is dropped", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let pair = ecKey()
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientTimeToLive: "1 minute",
        resolveClient: () =>
          Effect.sync(() => ({
            tokenEndpoint: endpointUrl,
            clientId: "tenant",
            authentication: {
              method: "private_key_jwt",
              privateKey: Redacted.make(pemOf(pair)),
              audience: "tokenEndpoint"
            }
          }))
      })
      const first = yield* service.getToken("acme")
      pair = ecKey()
      yield* TestClock.adjust("2 minutes")
      const second = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(first.value), "token-1")
      assert.strictEqual(Redacted.value(second.value), "token-2")
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})

describe("TokenService with resolved DPoP clients", () => {
  it.scoped("a generated DPoP key lives as long as its unchanged definition: one key, one token", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let secret = SECRET
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientTimeToLive: "1 second",
        resolveClient: (name) => Effect.sync(() => ({ ...tenant(name, secret), dpop: true }))
      })
      const thumbprints = new Set<string>()
      for (let i = 0; i < 4; i++) {
        yield* service.getToken("acme")
        thumbprints.add((yield* service.client("acme")).dpop!.key.thumbprint)
        yield* TestClock.adjust("2 seconds")
      }
      assert.strictEqual(thumbprints.size, 1)
      assert.strictEqual(endpoint.state.requests, 1)
      // A changed definition is a new identity: a key of its own, and a token of its own.
      secret = "rotated-secret"
      yield* service.getToken("acme")
      thumbprints.add((yield* service.client("acme")).dpop!.key.thumbprint)
      assert.strictEqual(thumbprints.size, 2)
      assert.strictEqual(endpoint.state.requests, 2)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})

describe("TokenService with resolved DPoP clients given their key", () => {
  it.scoped("a DPoP key imported anew at each resolution is the same key: one token", () => {
    const endpoint = countingEndpoint()
    const pem = pemOf(ecKey())
    return Effect.gen(function*() {
      const service = yield* TokenService.make({
        clients: {},
        resolvedClientTimeToLive: "1 second",
        resolveClient: (name) => Effect.sync(() => ({ ...tenant(name), dpop: { key: Redacted.make(pem) } }))
      })
      for (let i = 0; i < 3; i++) {
        yield* service.getToken("acme")
        yield* TestClock.adjust("2 seconds")
      }
      assert.strictEqual(endpoint.state.requests, 1)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })
})

describe("TokenService with a resolver that hangs or dies", () => {
  it.scoped("a resolver that hangs fails after resolverTimeout with a ClientResolutionError, not kept", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: (name) => ++resolutions === 1 ? Effect.never : Effect.succeed(tenant(name)),
        resolverTimeout: "3 seconds"
      })
      const caller = yield* Effect.fork(Effect.flip(service.getToken("acme")))
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(caller)
      assert.instanceOf(error, TokenError.ClientResolutionError)
      assert.strictEqual(
        error.message,
        `The definition of client "acme" could not be resolved: resolveClient did not answer within 3s (resolverTimeout)`
      )
      // The next call resolves again, and gets its token.
      const token = yield* service.getToken("acme")
      assert.strictEqual(Redacted.value(token.value), "token-1")
      assert.strictEqual(resolutions, 2)
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  it.scoped("the resolver timeout defaults to ClientResolver.defaultResolverTimeout", () => {
    const endpoint = countingEndpoint()
    return Effect.gen(function*() {
      const service = yield* TokenService.make({ clients: {}, resolveClient: () => Effect.never })
      const caller = yield* Effect.fork(Effect.flip(service.getToken("acme")))
      yield* TestClock.adjust(Duration.subtract(ClientResolver.defaultResolverTimeout, Duration.millis(1)))
      assert.isTrue(Option.isNone(yield* Fiber.poll(caller)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(caller))._tag, "ClientResolutionError")
    }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
  })

  for (
    const [label, resolver] of [
      ["throws", (): Effect.Effect<TokenService.ClientInput> => {
        throw new Error(`cannot reach postgres://tenant:${SECRET}@db`)
      }],
      ["dies", () => Effect.die(new Error(`cannot reach postgres://tenant:${SECRET}@db`))],
      // Its own interruption, not its callers': they get an error, not an interruption.
      ["interrupts itself", () => Effect.interrupt]
    ] as const
  ) {
    it.scoped(`a resolver that ${label} fails with a ClientResolutionError, not a defect, and is not kept`, () => {
      const endpoint = countingEndpoint()
      return Effect.gen(function*() {
        let resolutions = 0
        const service = yield* TokenService.make({
          clients: {},
          resolveClient: (name) => ++resolutions === 1 ? resolver() : Effect.succeed(tenant(name))
        })
        const error = yield* Effect.flip(service.getToken("acme"))
        assert.instanceOf(error, TokenError.ClientResolutionError)
        assert.strictEqual(
          error.message,
          `The definition of client "acme" could not be resolved: resolveClient failed unexpectedly (a defect: see the cause)`
        )
        assert.notInclude(error.message, SECRET)
        yield* service.getToken("acme")
        assert.strictEqual(resolutions, 2)
      }).pipe(Effect.provide(Layer.merge(endpoint.layer, TokenCache.layerMemory())))
    })
  }
})

describe("TokenService rotation of a key-based tenant against oidc-provider", () => {
  it.live("an unchanged key refused with invalid_client is not retried; a key changed at its source is", () => {
    const registered = ecKey()
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => {
      logs.push(String(message))
    })
    return Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{
          clientId: "tenant-k",
          tokenEndpointAuthMethod: "private_key_jwt",
          jwks: { keys: [{ ...registered.publicKey.export({ format: "jwk" }), kid: "k" } as JsonWebKey] },
          scopes: ["api"]
        }],
        scopes: ["api"]
      })
      // The store holds a key the server does not know, until it is fixed.
      let stored = ecKey()
      let resolutions = 0
      const service = yield* TokenService.make({
        clients: {},
        resolveClient: () =>
          Effect.sync(() => {
            resolutions++
            return {
              issuer: server.issuer,
              clientId: "tenant-k",
              authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(stored)), keyId: "k" },
              scope: "api"
            }
          }),
        // The next call after a refusal asks again (the backoff, which would hold it: refusals.test.ts).
        refusalBackoff: Schedule.stop
      })
      const error = yield* Effect.flip(service.getToken("acme"))
      assert.strictEqual((error as TokenError.TokenRefusedError).error, "invalid_client")
      assert.strictEqual(resolutions, 2)
      assert.strictEqual((yield* server.tokenRequests).length, 1)
      assert.isFalse(logs.some((line) => line.includes("definition changed")))

      // The key is fixed at its source: the next refusal finds it changed, and the token comes.
      stored = registered
      const token = yield* service.getToken("acme")
      assert.isTrue(Redacted.value(token.value).length > 0)
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(requests.map((request) => [request.outcome, request.error]), [
        ["error", "invalid_client"],
        ["error", "invalid_client"],
        ["success", undefined]
      ])
      assert.strictEqual(logs.filter((line) => line.includes("definition changed")).length, 1)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        TokenEndpointClient.layer().pipe(Layer.provide(NodeHttpClient.layerUndici)),
        TokenCache.layerMemory(),
        Logger.replace(Logger.defaultLogger, logger)
      ))
    )
  })
})
