// @ts-nocheck
// The examples of packages/testing/README.md, run: a user's integration tests against the test kit.
import { TokenService } from "@access-token/core"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, TestClock } from "effect"

describe("the test kit's README", () => {
  it.scoped("starts a token server and an API in a test", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make()
      const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
      const [client] = server.clients // "m2m", client_secret_basic, may ask for scope "api"

      // The code under test: here @access-token/core, configured with the server's client.
      const Tokens = TokenService.layerDefault({
        clients: {
          api: {
            tokenEndpoint: server.tokenEndpoint,
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            scope: "api"
          }
        }
      })
      const token = yield* TokenService.getToken("api").pipe(Effect.provide(Tokens))
      const response = yield* HttpClient.get(new URL("test", api.baseUrl), {
        headers: { authorization: token.authorization }
      })

      assert.strictEqual(response.status, 200)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  // Live: assertions are dated by the clock, and the server checks them against its own.
  it.scopedLive("registers clients of each authentication method", () =>
    Effect.gen(function*() {
      const keys = yield* Effect.promise(() =>
        crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])
      )
      const publicJwk = yield* Effect.promise(() => crypto.subtle.exportKey("jwk", keys.publicKey))
      const server = yield* TokenServer.make({
        clients: [
          { clientId: "basic", clientSecret: "s1", tokenEndpointAuthMethod: "client_secret_basic" },
          { clientId: "post", clientSecret: "s2", tokenEndpointAuthMethod: "client_secret_post" },
          {
            clientId: "hmac",
            clientSecret: "a-shared-secret-long-enough-for-HS256-0123456789",
            tokenEndpointAuthMethod: "client_secret_jwt"
          },
          { clientId: "signed", tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [publicJwk] } }
        ]
      })
      const endpoint = { tokenEndpoint: server.tokenEndpoint, scope: "api" }
      const Tokens = TokenService.layerDefault({
        clients: {
          basic: { ...endpoint, clientId: "basic", clientSecret: Redacted.make("s1") },
          post: { ...endpoint, clientId: "post", clientSecret: Redacted.make("s2"), credentialStyle: "body" },
          // The assertion methods address the issuer (their `aud`): configure those clients by issuer.
          hmac: {
            issuer: server.issuer,
            scope: "api",
            clientId: "hmac",
            clientSecret: Redacted.make("a-shared-secret-long-enough-for-HS256-0123456789"),
            authentication: { method: "client_secret_jwt" }
          },
          signed: {
            issuer: server.issuer,
            scope: "api",
            clientId: "signed",
            authentication: { method: "private_key_jwt", privateKey: keys.privateKey }
          }
        }
      })
      for (const name of ["basic", "post", "hmac", "signed"]) {
        yield* TokenService.getToken(name).pipe(Effect.provide(Tokens))
      }

      // How each one authenticated on the wire.
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(
        requests.map((request) => [request.clientId, request.clientAuthMethod, request.outcome]),
        [
          ["basic", "client_secret_basic", "success"],
          ["post", "client_secret_post", "success"],
          ["hmac", "client_secret_jwt", "success"],
          ["signed", "private_key_jwt", "success"]
        ]
      )
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("counts token requests and makes tokens expire", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({ accessTokenLifetime: "1 minute" })
      const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
      const [client] = server.clients
      const tokens = yield* Layer.build(
        TokenService.layerDefault({
          clients: {
            api: {
              tokenEndpoint: server.tokenEndpoint,
              clientId: client.clientId,
              clientSecret: client.clientSecret,
              scope: "api"
            }
          }
        })
      )
      const getToken = TokenService.getToken("api").pipe(Effect.provide(tokens))

      yield* getToken
      yield* getToken
      assert.strictEqual(yield* server.tokenRequestCount, 1)

      // The client's clock past the token's life (TestClock): it asks again.
      yield* TestClock.adjust("1 minute")
      const renewed = yield* getToken
      assert.strictEqual(yield* server.tokenRequestCount, 2)

      // The API's side: every token it has accepted is now refused with 401 invalid_token.
      const call = HttpClient.get(new URL("test", api.baseUrl), { headers: { authorization: renewed.authorization } })
      assert.strictEqual((yield* call).status, 200)
      yield* api.revokeAll
      assert.strictEqual((yield* call).status, 401)
      assert.strictEqual((yield* api.requests).at(-1)?.error, "invalid_token")
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})
