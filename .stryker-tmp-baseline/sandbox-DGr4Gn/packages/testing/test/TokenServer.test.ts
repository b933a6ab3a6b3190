// @ts-nocheck
import { TokenServer } from "@access-token/testing"
import { assert, describe, it, vi } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Jose from "jose"

const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2)

interface TokenRequestInit {
  readonly basic?: readonly [clientId: string, clientSecret: string]
  readonly form: Record<string, string>
}

const requestToken = (url: string, init: TokenRequestInit) =>
  Effect.promise(async () => {
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" }
    if (init.basic !== undefined) {
      const [clientId, clientSecret] = init.basic
      // RFC 6749 §2.3.1: both are form-urlencoded before base64
      headers.authorization = `Basic ${
        Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString("base64")
      }`
    }
    const response = await fetch(url, { method: "POST", headers, body: new URLSearchParams(init.form) })
    return { status: response.status, headers: response.headers, body: await response.json() }
  })

const withServer = <A, E>(
  options: TokenServer.Options,
  f: (server: TokenServer.TokenServer.Service) => Effect.Effect<A, E>
) => Effect.flatMap(TokenServer.TokenServer, f).pipe(Effect.provide(TokenServer.layer(options)))

describe("TokenServer", () => {
  it.scoped("prints nothing while starting, issuing and refusing", () =>
    Effect.gen(function*() {
      const spies = [
        vi.spyOn(console, "log"),
        vi.spyOn(console, "info"),
        vi.spyOn(console, "warn"),
        vi.spyOn(console, "error"),
        vi.spyOn(console, "debug"),
        vi.spyOn(process, "emitWarning")
      ]
      yield* Effect.addFinalizer(() => Effect.sync(() => spies.forEach((spy) => spy.mockRestore())))
      yield* withServer({}, (server) =>
        Effect.gen(function*() {
          const issued = yield* requestToken(server.tokenEndpoint, {
            basic: ["m2m", "secret"],
            form: { grant_type: "client_credentials", scope: "api" }
          })
          assert.strictEqual(issued.status, 200)
          const refused = yield* requestToken(server.tokenEndpoint, {
            basic: ["m2m", "wrong"],
            form: { grant_type: "client_credentials" }
          })
          assert.strictEqual(refused.status, 401)
        }))
      for (const spy of spies) {
        assert.deepStrictEqual(spy.mock.calls, [])
      }
    }))

  it.scoped("defaults to one client, m2m, with the scope api on urn:access-token:api", () =>
    withServer({}, (server) =>
      Effect.gen(function*() {
        assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+$/)
        assert.strictEqual(server.tokenEndpoint, `${server.issuer}/token`)
        assert.strictEqual(server.jwksUri, `${server.issuer}/jwks`)
        assert.strictEqual(server.resource, "urn:access-token:api")
        assert.deepStrictEqual(server.scopes, ["api"])
        assert.strictEqual(server.clients.length, 1)
        const [client] = server.clients
        assert.strictEqual(client.clientId, "m2m")
        assert.strictEqual(Redacted.value(client.clientSecret), "secret")
        assert.strictEqual(client.tokenEndpointAuthMethod, "client_secret_basic")
        assert.deepStrictEqual(client.scopes, ["api"])
      })))

  it.scoped("issues a token to a client authenticating with client_secret_basic and logs it", () =>
    withServer({}, (server) =>
      Effect.gen(function*() {
        const response = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api" }
        })
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.body.token_type, "Bearer")
        assert.strictEqual(response.body.scope, "api")
        assert.strictEqual(response.body.expires_in, 3600)
        assert.deepStrictEqual(yield* server.tokenRequests, [{
          clientId: "m2m",
          clientAuthMethod: "client_secret_basic",
          grantType: "client_credentials",
          requestedScope: "api",
          outcome: "success",
          status: 200,
          scope: "api",
          resource: "urn:access-token:api",
          error: undefined
        }])
        assert.strictEqual(yield* server.tokenRequestCount, 1)
      })))

  it.scoped("issues a token to a client authenticating with client_secret_post and logs it", () =>
    withServer({
      clients: [{ clientId: "poster", clientSecret: "s3cret", tokenEndpointAuthMethod: "client_secret_post" }]
    }, (server) =>
      Effect.gen(function*() {
        const response = yield* requestToken(server.tokenEndpoint, {
          form: { grant_type: "client_credentials", client_id: "poster", client_secret: "s3cret", scope: "api" }
        })
        assert.strictEqual(response.status, 200)
        const [request] = yield* server.tokenRequests
        assert.strictEqual(request.clientId, "poster")
        assert.strictEqual(request.clientAuthMethod, "client_secret_post")
        assert.strictEqual(request.outcome, "success")
        assert.strictEqual(yield* server.tokenRequestCount, 1)
      })))

  it.scoped("accepts a secret with special characters form-urlencoded in the Basic header", () => {
    const clientSecret = "p@ss:w+rd%/ x~"
    return withServer({ clients: [{ clientId: "svc:1/a b", clientSecret }] }, (server) =>
      Effect.gen(function*() {
        const response = yield* requestToken(server.tokenEndpoint, {
          basic: ["svc:1/a b", clientSecret],
          form: { grant_type: "client_credentials", scope: "api" }
        })
        assert.strictEqual(response.status, 200)
        const [request] = yield* server.tokenRequests
        assert.strictEqual(request.clientId, "svc:1/a b")
        assert.strictEqual(request.clientAuthMethod, "client_secret_basic")
      }))
  })

  it.scoped("refuses a wrong secret with 401 invalid_client", () =>
    withServer({}, (server) =>
      Effect.gen(function*() {
        const response = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "not the secret"],
          form: { grant_type: "client_credentials", scope: "api" }
        })
        assert.strictEqual(response.status, 401)
        assert.strictEqual(response.body.error, "invalid_client")
        const [request] = yield* server.tokenRequests
        assert.deepStrictEqual(request, {
          clientId: "m2m",
          clientAuthMethod: "client_secret_basic",
          grantType: "client_credentials",
          requestedScope: "api",
          outcome: "error",
          status: 401,
          scope: undefined,
          resource: undefined,
          error: "invalid_client"
        })
        assert.strictEqual(yield* server.tokenRequestCount, 1)
      })))

  it.scoped("refuses an unknown scope with 400 invalid_scope", () =>
    withServer({}, (server) =>
      Effect.gen(function*() {
        const response = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api unknown" }
        })
        assert.strictEqual(response.status, 400)
        assert.strictEqual(response.body.error, "invalid_scope")
        const [request] = yield* server.tokenRequests
        assert.strictEqual(request.outcome, "error")
        assert.strictEqual(request.error, "invalid_scope")
      })))

  it.scoped("refuses a scope of the resource the client is not allowed", () =>
    withServer({
      scopes: ["api", "admin"],
      clients: [{ clientId: "m2m", clientSecret: "secret", scopes: ["api"] }]
    }, (server) =>
      Effect.gen(function*() {
        const refused = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "admin" }
        })
        assert.strictEqual(refused.status, 400)
        assert.strictEqual(refused.body.error, "invalid_scope")
        const issued = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api" }
        })
        assert.strictEqual(issued.status, 200)
        assert.strictEqual(yield* server.tokenRequestCount, 2)
      })))

  it.scoped("issues tokens for the configured resource, with or without the resource parameter", () =>
    withServer({ resource: "http://api.test/" }, (server) =>
      Effect.gen(function*() {
        const implicit = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api" }
        })
        assert.strictEqual(Jose.decodeJwt(implicit.body.access_token).aud, "http://api.test/")
        const explicit = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api", resource: "http://api.test/" }
        })
        assert.strictEqual(Jose.decodeJwt(explicit.body.access_token).aud, "http://api.test/")
        const other = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api", resource: "http://other.test/" }
        })
        assert.strictEqual(other.status, 400)
        assert.strictEqual(other.body.error, "invalid_target")
        assert.deepStrictEqual((yield* server.tokenRequests).map((request) => request.resource), [
          "http://api.test/",
          "http://api.test/",
          undefined
        ])
      })))

  it.scoped("issues ES256 JWT access tokens with the configured lifetime, verifiable with the JWKS", () =>
    withServer({ accessTokenLifetime: "1 second" }, (server) =>
      Effect.gen(function*() {
        const response = yield* requestToken(server.tokenEndpoint, {
          basic: ["m2m", "secret"],
          form: { grant_type: "client_credentials", scope: "api" }
        })
        assert.strictEqual(response.body.expires_in, 1)
        const header = Jose.decodeProtectedHeader(response.body.access_token)
        assert.strictEqual(header.alg, "ES256")
        assert.strictEqual(header.typ, "at+jwt")
        const { payload } = yield* Effect.promise(() =>
          Jose.jwtVerify(response.body.access_token, Jose.createRemoteJWKSet(new URL(server.jwksUri)), {
            issuer: server.issuer,
            audience: server.resource,
            clockTolerance: 1
          })
        )
        assert.strictEqual(payload.exp! - payload.iat!, 1)
        assert.strictEqual(payload.client_id, "m2m")
        assert.strictEqual(payload.scope, "api")
        assert.isString(payload.jti)
      })))

  it.scoped("releases the port when the scope closes", () =>
    Effect.gen(function*() {
      const tokenEndpoint = yield* withServer({}, (server) => Effect.succeed(server.tokenEndpoint))
      const result = yield* Effect.tryPromise(() => fetch(tokenEndpoint, { method: "POST" })).pipe(Effect.either)
      assert.isTrue(result._tag === "Left")
    }))
})
