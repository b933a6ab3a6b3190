// @ts-nocheck
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"

const servers = (tokenServer: TokenServer.Options = {}, api: ProtectedApi.Options = {}) =>
  ProtectedApi.layer(api).pipe(Layer.provideMerge(TokenServer.layer(tokenServer)))

const accessToken = (scope: string) =>
  Effect.gen(function*() {
    const server = yield* TokenServer.TokenServer
    const [client] = server.clients
    const basic = Buffer.from(`${client.clientId}:${Redacted.value(client.clientSecret)}`).toString("base64")
    const body = yield* Effect.promise(() =>
      fetch(server.tokenEndpoint, {
        method: "POST",
        headers: { authorization: `Basic ${basic}` },
        body: new URLSearchParams({ grant_type: "client_credentials", scope })
      }).then((response) => response.json())
    )
    assert.isString(body.access_token)
    return body.access_token as string
  })

const callApi = (token?: string) =>
  Effect.gen(function*() {
    const api = yield* ProtectedApi.ProtectedApi
    return yield* Effect.promise(async () => {
      const response = await fetch(new URL("test", api.baseUrl), {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
      })
      const text = await response.text()
      return {
        status: response.status,
        wwwAuthenticate: response.headers.get("www-authenticate"),
        body: text === "" ? undefined : JSON.parse(text)
      }
    })
  })

describe("ProtectedApi", () => {
  it.scoped("answers 401 with a bare Bearer challenge when no token is sent", () =>
    Effect.gen(function*() {
      const response = yield* callApi()
      assert.strictEqual(response.status, 401)
      assert.strictEqual(response.wwwAuthenticate, "Bearer")
      const api = yield* ProtectedApi.ProtectedApi
      assert.deepStrictEqual(yield* api.requests, [{
        method: "GET",
        path: "/test",
        authorization: false,
        status: 401,
        error: undefined
      }])
      assert.strictEqual(yield* api.requestCount, 1)
    }).pipe(Effect.provide(servers())))

  it.scoped("answers the claims of a valid token", () =>
    Effect.gen(function*() {
      const { issuer, resource } = yield* TokenServer.TokenServer
      const response = yield* callApi(yield* accessToken("api"))
      assert.strictEqual(response.status, 200)
      const claims: Array<ProtectedApi.Claim> = response.body
      const claim = (type: string) => claims.filter((claim) => claim.type === type).map((claim) => claim.value)
      assert.deepStrictEqual(claim("iss"), [issuer])
      assert.deepStrictEqual(claim("aud"), [resource])
      assert.deepStrictEqual(claim("scope"), ["api"])
      assert.deepStrictEqual(claim("client_id"), ["m2m"])
      assert.deepStrictEqual(claim("sub"), ["m2m"])
      assert.match(claim("exp")[0], /^\d+$/)
      const api = yield* ProtectedApi.ProtectedApi
      const [request] = yield* api.requests
      assert.strictEqual(request.authorization, true)
      assert.strictEqual(request.status, 200)
    }).pipe(Effect.provide(servers())))

  it.live("refuses an expired token with invalid_token", () =>
    Effect.gen(function*() {
      const token = yield* accessToken("api")
      assert.strictEqual((yield* callApi(token)).status, 200)
      yield* Effect.sleep("2 seconds")
      const response = yield* callApi(token)
      assert.strictEqual(response.status, 401)
      assert.match(response.wwwAuthenticate!, /^Bearer error="invalid_token"/)
      assert.match(response.wwwAuthenticate!, /expired/)
    }).pipe(Effect.provide(servers({ accessTokenLifetime: "1 second" }))))

  it.scoped("refuses a token for another audience with invalid_token", () =>
    Effect.gen(function*() {
      const response = yield* callApi(yield* accessToken("api"))
      assert.strictEqual(response.status, 401)
      assert.match(response.wwwAuthenticate!, /^Bearer error="invalid_token"/)
    }).pipe(Effect.provide(servers({}, { audience: "urn:access-token:other" }))))

  it.scoped("refuses a token from another issuer with invalid_token", () =>
    Effect.gen(function*() {
      const foreign = yield* accessToken("api").pipe(Effect.provide(TokenServer.layer()))
      const response = yield* callApi(foreign)
      assert.strictEqual(response.status, 401)
      assert.match(response.wwwAuthenticate!, /^Bearer error="invalid_token"/)
    }).pipe(Effect.provide(servers())))

  it.scoped("refuses a malformed or tampered token with invalid_token", () =>
    Effect.gen(function*() {
      const token = yield* accessToken("api")
      const [header, payload, signature] = token.split(".")
      const tampered = [header, payload, signature.slice(0, -4) + (signature.endsWith("AAAA") ? "BBBB" : "AAAA")]
      for (const candidate of ["not-a-jwt", tampered.join(".")]) {
        const response = yield* callApi(candidate)
        assert.strictEqual(response.status, 401)
        assert.match(response.wwwAuthenticate!, /^Bearer error="invalid_token"/)
      }
    }).pipe(Effect.provide(servers())))

  it.scoped("refuses a token without the required scope with 403 insufficient_scope", () =>
    Effect.gen(function*() {
      const response = yield* callApi(yield* accessToken("read"))
      assert.strictEqual(response.status, 403)
      assert.match(response.wwwAuthenticate!, /^Bearer error="insufficient_scope"/)
      assert.match(response.wwwAuthenticate!, /scope="api"/)
      const api = yield* ProtectedApi.ProtectedApi
      const [request] = yield* api.requests
      assert.strictEqual(request.error, "insufficient_scope")
    }).pipe(Effect.provide(servers({ scopes: ["api", "read"] }))))

  it.scoped("requires the configured scope", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* callApi(yield* accessToken("read"))).status, 200)
      assert.strictEqual((yield* callApi(yield* accessToken("api"))).status, 403)
    }).pipe(Effect.provide(servers({ scopes: ["api", "read"] }, { requiredScope: "read" }))))

  it.scoped("refuses every token seen before revokeAll, and accepts new ones", () =>
    Effect.gen(function*() {
      const api = yield* ProtectedApi.ProtectedApi
      const old = yield* accessToken("api")
      assert.strictEqual((yield* callApi(old)).status, 200)
      yield* api.revokeAll
      const refused = yield* callApi(old)
      assert.strictEqual(refused.status, 401)
      assert.match(refused.wwwAuthenticate!, /^Bearer error="invalid_token"/)
      assert.strictEqual((yield* callApi(yield* accessToken("api"))).status, 200)
      assert.deepStrictEqual((yield* api.requests).map((request) => request.status), [200, 401, 200])
    }).pipe(Effect.provide(servers())))

  it.scoped("answers 404 elsewhere", () =>
    Effect.gen(function*() {
      const api = yield* ProtectedApi.ProtectedApi
      const response = yield* Effect.promise(() => fetch(new URL("other", api.baseUrl)))
      assert.strictEqual(response.status, 404)
    }).pipe(Effect.provide(servers())))

  it.scoped("releases the port when the scope closes", () =>
    Effect.gen(function*() {
      const baseUrl = yield* ProtectedApi.ProtectedApi.pipe(
        Effect.map((api) => api.baseUrl),
        Effect.provide(servers())
      )
      const result = yield* Effect.tryPromise(() => fetch(new URL("test", baseUrl))).pipe(Effect.either)
      assert.isTrue(result._tag === "Left")
    }))
})
