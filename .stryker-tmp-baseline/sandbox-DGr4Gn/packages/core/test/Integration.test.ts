/**
 * The core against a real OAuth 2.0 server (oidc-provider) on loopback.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { LoopbackServer, TokenServer } from "@access-token/testing"
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as Jose from "jose"
import type * as Http from "node:http"

const SPECIAL_SECRET = "p@ss:w+rd%/ x~"

const server = TokenServer.make({
  clients: [
    { clientId: "basic-client", clientSecret: "basic-secret", tokenEndpointAuthMethod: "client_secret_basic" },
    { clientId: "post-client", clientSecret: "post-secret", tokenEndpointAuthMethod: "client_secret_post" },
    { clientId: "special:client/1", clientSecret: SPECIAL_SECRET, scopes: ["api"] },
    { clientId: "reader", clientSecret: "reader-secret", scopes: ["api.read"] }
  ],
  scopes: ["api", "api.read", "api.write"],
  resource: "https://api.example.com"
})

const requestToken = (
  tokenServer: TokenServer.TokenServer.Service,
  input: Omit<ClientCredentialsClient.Input, "tokenEndpoint">,
  parameters?: TokenEndpointClient.RequestParameters
) =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpointClient.make()
    const client = yield* ClientCredentialsClient.make({ tokenEndpoint: tokenServer.tokenEndpoint, ...input })
    return yield* endpoint.requestToken(client, parameters)
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

const claims = (token: { readonly value: Redacted.Redacted<string> }) => Jose.decodeJwt(Redacted.value(token.value))

describe("TokenEndpointClient against oidc-provider", () => {
  it.scoped("client_secret_basic: the server sees Basic authentication", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const token = yield* requestToken(tokenServer, {
        clientId: "basic-client",
        clientSecret: Redacted.make("basic-secret"),
        scope: "api"
      })
      assert.strictEqual(token.type, "Bearer")
      assert.strictEqual(token.scope, "api")
      assert.strictEqual(claims(token).client_id, "basic-client")
      const requests = yield* tokenServer.tokenRequests
      assert.deepStrictEqual(requests.map((r) => [r.clientId, r.clientAuthMethod, r.outcome]), [
        ["basic-client", "client_secret_basic", "success"]
      ])
    }))

  it.scoped("client_secret_post: the server sees the credentials in the body", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const token = yield* requestToken(tokenServer, {
        clientId: "post-client",
        clientSecret: Redacted.make("post-secret"),
        credentialStyle: "body",
        scope: "api"
      })
      assert.strictEqual(claims(token).client_id, "post-client")
      const requests = yield* tokenServer.tokenRequests
      assert.deepStrictEqual(requests.map((r) => [r.clientId, r.clientAuthMethod]), [
        ["post-client", "client_secret_post"]
      ])
    }))

  it.scoped("a client id and secret with special characters work with client_secret_basic", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const token = yield* requestToken(tokenServer, {
        clientId: "special:client/1",
        clientSecret: Redacted.make(SPECIAL_SECRET),
        scope: "api"
      })
      assert.strictEqual(claims(token).client_id, "special:client/1")
    }))

  it.scoped("scope and resource are honoured", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const token = yield* requestToken(tokenServer, {
        clientId: "basic-client",
        clientSecret: Redacted.make("basic-secret"),
        scope: "api",
        resource: "https://api.example.com"
      }, { scope: "api.read api.write" })
      assert.strictEqual(token.scope, "api.read api.write")
      const payload = claims(token)
      assert.strictEqual(payload.aud, "https://api.example.com")
      assert.strictEqual(payload.scope, "api.read api.write")
      assert.isDefined(token.expiresAt)
      const requests = yield* tokenServer.tokenRequests
      assert.strictEqual(requests[0].requestedScope, "api.read api.write")
      assert.strictEqual(requests[0].resource, "https://api.example.com")
    }))

  it.scoped("a wrong secret surfaces as TokenRefusedError invalid_client, without the secret", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const error = yield* Effect.flip(requestToken(tokenServer, {
        name: "api",
        clientId: "basic-client",
        clientSecret: Redacted.make("wrong-secret-value")
      }))
      assert.strictEqual(error._tag, "TokenRefusedError")
      if (error._tag !== "TokenRefusedError") return
      assert.strictEqual(error.error, "invalid_client")
      assert.strictEqual(error.status, 401)
      assert.notInclude(error.message, "wrong-secret-value")
      assert.strictEqual(yield* tokenServer.tokenRequestCount, 1, "invalid_client is not retried")
    }))

  it.scoped("an unknown or forbidden scope surfaces as TokenRefusedError invalid_scope", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const unknown = yield* Effect.flip(requestToken(tokenServer, {
        clientId: "basic-client",
        clientSecret: Redacted.make("basic-secret"),
        scope: "api unknown"
      }))
      assert.strictEqual(unknown._tag === "TokenRefusedError" && unknown.error, "invalid_scope")
      const forbidden = yield* Effect.flip(requestToken(tokenServer, {
        clientId: "reader",
        clientSecret: Redacted.make("reader-secret"),
        scope: "api.write"
      }))
      assert.strictEqual(forbidden._tag === "TokenRefusedError" && forbidden.error, "invalid_scope")
      assert.strictEqual(yield* tokenServer.tokenRequestCount, 2, "invalid_scope is not retried")
    }))
})

describe("TokenService against oidc-provider", () => {
  it.live("caches the token and keeps one per scope", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const context = yield* Layer.build(
        TokenService.layer({
          clients: {
            api: {
              tokenEndpoint: tokenServer.tokenEndpoint,
              clientId: "basic-client",
              clientSecret: Redacted.make("basic-secret"),
              scope: "api"
            }
          }
        }).pipe(
          Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )
      const service = Context.get(context, TokenService.TokenService)
      const tokens = yield* Effect.all(Array.from({ length: 200 }, () => service.getToken("api")), {
        concurrency: "unbounded"
      })
      assert.strictEqual(new Set(tokens.map((token) => Redacted.value(token.value))).size, 1)
      const read = yield* service.getToken("api", { scope: "api.read" })
      assert.strictEqual(claims(read).scope, "api.read")
      assert.strictEqual(yield* tokenServer.tokenRequestCount, 2)
    }).pipe(Effect.scoped))
})

/** A loopback token endpoint that answers every request with `respond`. */
const loopbackServer = (respond: (response: Http.ServerResponse) => void) =>
  Effect.map(LoopbackServer.make((_, response) => respond(response)), (server) => ({
    url: `${server.origin}/token`,
    requests: server.requests
  }))

describe("TokenEndpointClient and redirects", () => {
  for (
    const [name, transport] of [
      ["fetch", FetchHttpClient.layer],
      ["undici", NodeHttpClient.layerUndici],
      ["node:http", NodeHttpClient.layer]
    ] as const
  ) {
    it.scoped(`${name}: a 307 from the token endpoint is not followed, so the credentials go nowhere else`, () =>
      Effect.gen(function*() {
        const elsewhere = yield* loopbackServer((response) => response.end("{}"))
        const endpoint = yield* loopbackServer((response) => response.writeHead(307, { location: elsewhere.url }).end())
        const error = yield* Effect.gen(function*() {
          const client = yield* ClientCredentialsClient.make({
            tokenEndpoint: endpoint.url,
            clientId: "redirected",
            clientSecret: Redacted.make("redirected-secret"),
            credentialStyle: "body"
          })
          const tokens = yield* TokenEndpointClient.make()
          return yield* Effect.flip(tokens.requestToken(client))
        }).pipe(Effect.provide(transport))
        assert.strictEqual(error._tag, "InvalidTokenResponseError")
        assert.include(error.message, "redirects are not followed")
        assert.strictEqual(endpoint.requests.length, 1)
        assert.include(endpoint.requests[0].body, "client_secret=redirected-secret")
        assert.deepStrictEqual(elsewhere.requests, [])
      }))
  }
})

describe("TokenService with short tokens from oidc-provider", () => {
  const shortService = (lifetime: "1 second" | "2 seconds") =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "short", clientSecret: "short-secret", scopes: ["api"] }],
        accessTokenLifetime: lifetime
      })
      const service = yield* TokenService.make({
        clients: {
          short: {
            tokenEndpoint: server.tokenEndpoint,
            clientId: "short",
            clientSecret: Redacted.make("short-secret"),
            scope: "api"
          }
        }
      }).pipe(Effect.provide(Layer.merge(TokenEndpointClient.layer(), TokenCache.layerMemory())))
      return { server, service }
    })

  it.live(
    "never hands out a cached 2-second token at or after the exp the server wrote in it",
    () =>
      Effect.gen(function*() {
        const { server, service } = yield* shortService("2 seconds")
        const late: Array<number> = []
        let handedOut = 0
        const deadline = Date.now() + 3_000
        // 20 fibers asking again and again, as a busy worker would.
        yield* Effect.forEach(Array.from({ length: 20 }), () =>
          Effect.gen(function*() {
            while (Date.now() < deadline) {
              const token = yield* service.getToken("short")
              const at = Date.now()
              handedOut++
              // `exp` is in whole seconds: the token is expired from `exp * 1000` on.
              const exp = claims(token).exp!
              if (at >= exp * 1000) late.push(at - exp * 1000)
              yield* Effect.sleep("20 millis")
            }
          }), { concurrency: "unbounded" })
        assert.deepStrictEqual(late, [])
        assert.isAbove(handedOut, 3 * (yield* server.tokenRequests).length, "the tokens are cached")
      }).pipe(Effect.provide(NodeHttpClient.layerUndici), Effect.scoped),
    30_000
  )

  it.live("never caches a 1-second token: each sequential call has one of its own", () =>
    Effect.gen(function*() {
      const { server, service } = yield* shortService("1 second")
      const values = new Set<string>()
      for (let i = 0; i < 5; i++) values.add(Redacted.value((yield* service.getToken("short")).value))
      assert.strictEqual(values.size, 5)
      assert.strictEqual((yield* server.tokenRequests).length, 5)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici), Effect.scoped), 30_000)
})
