/**
 * DPoP tokens in a shared Redis: replicas that load the same DPoP key share one token, a replica
 * with another key never gets it, and the key itself is nowhere in Redis.
 */
// @ts-nocheck

import { TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import type { ClientCredentialsClient } from "@access-token/core"
import { RedisTokenCache } from "@access-token/redis"
import { RedisServer, TokenServer } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import { rawClient } from "./utils/redis.js"

layer(RedisServer.layerUrl, { excludeTestServices: true, timeout: "30 seconds" })("RedisTokenCache with DPoP", (it) => {
  it.scoped("replicas with the same key share a DPoP token; a replica with another key gets its own", () =>
    Effect.gen(function*() {
      const url = yield* RedisServer.RedisUrl
      const prefix = `dpop-${crypto.randomUUID()}/`
      const server = yield* TokenServer.make({ dpop: { required: true, requireNonce: true } })
      const [registered] = server.clients
      const { privateKey } = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
      const jwk = yield* Effect.promise(() => Jose.exportJWK(privateKey))
      const sharedKey = Redacted.make(JSON.stringify(jwk))

      /** One worker replica: its own token service and Redis connection, the same Redis and prefix. */
      const replica = (dpop: ClientCredentialsClient.Input["dpop"]) =>
        Effect.gen(function*() {
          const cache = yield* RedisTokenCache.make({ url, prefix })
          const context = yield* Layer.build(
            TokenService.layer({
              clients: {
                api: {
                  tokenEndpoint: server.tokenEndpoint,
                  clientId: registered!.clientId,
                  clientSecret: registered!.clientSecret,
                  scope: "api",
                  dpop
                }
              }
            }).pipe(
              Layer.provide([TokenEndpointClient.layer(), Layer.succeed(TokenCache.TokenCache, cache)]),
              Layer.provide(NodeHttpClient.layerUndici)
            )
          )
          return yield* Context.get(context, TokenService.TokenService).getToken("api")
        })

      const first = yield* replica({ key: sharedKey })
      const second = yield* replica({ key: sharedKey })
      const other = yield* replica(true)
      assert.strictEqual(first.type, "DPoP")
      assert.strictEqual(Redacted.value(second.value), Redacted.value(first.value))
      assert.notStrictEqual(Redacted.value(other.value), Redacted.value(first.value))
      assert.notDeepEqual(
        Jose.decodeJwt(Redacted.value(other.value)).cnf,
        Jose.decodeJwt(Redacted.value(first.value)).cnf
      )
      const issued = (yield* server.tokenRequests).filter((request) => request.outcome === "success")
      assert.strictEqual(issued.length, 2)

      const redis = yield* rawClient(url)
      const keys = yield* Effect.promise(() => redis.keys(`${prefix}*`))
      assert.isNotEmpty(keys)
      for (const key of keys) {
        const value = (yield* Effect.promise(() => redis.get(key))) ?? ""
        assert.notInclude(value, jwk.d!)
        assert.notInclude(key, jwk.d!)
      }
    }))
})
