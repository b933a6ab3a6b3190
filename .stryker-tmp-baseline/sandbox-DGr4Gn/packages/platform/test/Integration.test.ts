/**
 * The middleware against a real OAuth 2.0 server (oidc-provider) and a protected API that
 * validates its tokens, on loopback, in real time.
 */
// @ts-nocheck

import { TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Context, Effect, Layer } from "effect"

/** A token server with the given token lifetime, its API, and the worker's authenticated client. */
const setup = (
  options: { readonly lifetime: Duration.DurationInput; readonly tokenService?: Partial<TokenService.Options> }
) =>
  Effect.gen(function*() {
    const server = yield* TokenServer.make({ accessTokenLifetime: options.lifetime })
    const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
    const [client] = server.clients
    const tokens = TokenService.layer({
      clients: {
        api: {
          tokenEndpoint: server.tokenEndpoint,
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          scope: "api"
        }
      },
      ...options.tokenService
    }).pipe(
      Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
      Layer.provide(NodeHttpClient.layerUndici)
    )
    const context = yield* Layer.build(
      AccessTokenHttpClient.layer({ client: "api", baseUrl: api.baseUrl }).pipe(
        Layer.provide([tokens, NodeHttpClient.layerUndici])
      )
    )
    return { server, api, client: Context.get(context, HttpClient.HttpClient) }
  })

describe("AccessTokenHttpClient against oidc-provider", () => {
  it.live(
    "with 2-second tokens, 6 seconds of calls never meet an expired token and use few tokens",
    () =>
      Effect.gen(function*() {
        const { api, client, server } = yield* setup({ lifetime: "2 seconds" })
        const statuses: Array<number> = []
        const deadline = Date.now() + 6_000
        while (Date.now() < deadline) {
          const response = yield* client.get("test")
          statuses.push(response.status)
          yield* Effect.sleep("50 millis")
        }
        const apiRequests = yield* api.requests
        assert.isAbove(statuses.length, 50)
        assert.isTrue(statuses.every((status) => status === 200), `statuses: ${statuses.join(",")}`)
        assert.deepStrictEqual(
          apiRequests.filter((request) => request.status !== 200),
          [],
          "the API never saw an expired token"
        )
        const issued = yield* server.tokenRequestCount
        // a 2 s token counts as expired after 1 s (its `exp` is in whole seconds) and is renewed in
        // the background from 0.67 s: about one token per 0.7 s
        assert.isAtLeast(issued, 5)
        assert.isAtMost(issued, 14)
      }).pipe(Effect.scoped),
    20_000
  )

  it.live("a revoked token is renewed on the API's 401 and the call succeeds", () =>
    Effect.gen(function*() {
      const { api, client, server } = yield* setup({ lifetime: "1 hour" })
      assert.strictEqual((yield* client.get("test")).status, 200)
      yield* api.revokeAll
      const response = yield* client.get("test")
      assert.strictEqual(response.status, 200)
      const claims = (yield* response.json) as Array<{ type: string; value: string }>
      assert.deepInclude(claims, { type: "client_id", value: "m2m" })
      const requests = yield* api.requests
      assert.deepStrictEqual(requests.map((request) => request.status), [200, 401, 200])
      assert.strictEqual(yield* server.tokenRequestCount, 2)
    }).pipe(Effect.scoped))
})

describe("AccessTokenHttpClient against an API that rejects every token of oidc-provider", () => {
  it.scoped(
    "10 sequential calls cause at most 3 token requests, and a revoked token is renewed at once",
    () =>
      Effect.gen(function*() {
        const server = yield* TokenServer.make()
        // A misconfigured audience: the API accepts only tokens for another resource.
        const api = yield* ProtectedApi.make({ audience: "https://elsewhere.example.com" }).pipe(
          Effect.provideService(TokenServer.TokenServer, server)
        )
        const [registered] = server.clients
        const tokens = TokenService.layer({
          clients: {
            api: {
              tokenEndpoint: server.tokenEndpoint,
              clientId: registered.clientId,
              clientSecret: registered.clientSecret,
              scope: "api"
            }
          }
        }).pipe(
          Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
          Layer.provide(NodeHttpClient.layerUndici)
        )
        const context = yield* Layer.build(
          AccessTokenHttpClient.layer({ client: "api", baseUrl: api.baseUrl }).pipe(
            Layer.provide([tokens, NodeHttpClient.layerUndici])
          )
        )
        const client = Context.get(context, HttpClient.HttpClient)
        for (let i = 0; i < 10; i++) assert.strictEqual((yield* client.get("test")).status, 401)
        const requests = yield* server.tokenRequests
        assert.isAtMost(requests.length, 3)
        assert.isTrue(requests.every((request) => request.outcome === "success"))
      }),
    30_000
  )
})
