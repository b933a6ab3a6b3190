/**
 * The test servers speak DPoP (RFC 9449): the token server binds tokens to a proof's key and can
 * demand nonces; the protected API checks every proof and can demand nonces of its own.
 */
// @ts-nocheck

import { ProtectedApi, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as Jose from "jose"
import * as Crypto from "node:crypto"

const servers = (tokenServer: TokenServer.Options, api: ProtectedApi.Options = {}) =>
  ProtectedApi.layer(api).pipe(Layer.provideMerge(TokenServer.layer(tokenServer)))

const strict = servers({ dpop: { required: true, requireNonce: true } }, { dpop: { requireNonce: true } })

interface Holder {
  readonly privateKey: CryptoKey
  readonly jwk: Jose.JWK
  readonly jkt: string
}

const holder = Effect.promise(async (): Promise<Holder> => {
  const { privateKey, publicKey } = await Jose.generateKeyPair("ES256")
  const jwk = await Jose.exportJWK(publicKey)
  return { privateKey, jwk, jkt: await Jose.calculateJwkThumbprint(jwk) }
})

const proofOf = (
  key: Holder,
  claims: { htm: string; htu: string; nonce?: string; ath?: string; iat?: number; jti?: string }
) =>
  Effect.promise(() =>
    new Jose.SignJWT({ jti: Crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: key.jwk })
      .sign(key.privateKey)
  )

const ath = (token: string) => Crypto.createHash("sha256").update(token).digest("base64url")

const requestToken = (proof: string | undefined) =>
  Effect.gen(function*() {
    const server = yield* TokenServer.TokenServer
    const [client] = server.clients
    const basic = Buffer.from(`${client!.clientId}:${Redacted.value(client!.clientSecret)}`).toString("base64")
    return yield* Effect.promise(async () => {
      const response = await fetch(server.tokenEndpoint, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, ...(proof === undefined ? {} : { dpop: proof }) },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: "api" })
      })
      return { status: response.status, nonce: response.headers.get("dpop-nonce"), body: await response.json() }
    })
  })

/** A DPoP token for `key`, after the nonce round trip the strict token server demands. */
const dpopToken = (key: Holder) =>
  Effect.gen(function*() {
    const { tokenEndpoint } = yield* TokenServer.TokenServer
    const first = yield* requestToken(yield* proofOf(key, { htm: "POST", htu: tokenEndpoint }))
    const nonce = first.nonce ?? undefined
    const second = nonce === undefined ? first : yield* requestToken(
      yield* proofOf(key, { htm: "POST", htu: tokenEndpoint, nonce })
    )
    assert.strictEqual(second.status, 200)
    return second.body.access_token as string
  })

const callApi = (authorization: string | undefined, proof?: string, method = "GET", query = "") =>
  Effect.gen(function*() {
    const api = yield* ProtectedApi.ProtectedApi
    return yield* Effect.promise(async () => {
      const response = await fetch(new URL(`test${query}`, api.baseUrl), {
        method,
        headers: {
          ...(authorization === undefined ? {} : { authorization }),
          ...(proof === undefined ? {} : { dpop: proof })
        }
      })
      await response.arrayBuffer()
      return {
        status: response.status,
        wwwAuthenticate: response.headers.get("www-authenticate") ?? "",
        nonce: response.headers.get("dpop-nonce") ?? undefined
      }
    })
  })

const apiUrl = Effect.map(ProtectedApi.ProtectedApi, (api) => new URL("test", api.baseUrl).href)

describe("TokenServer with DPoP", () => {
  it.scoped("asks for a nonce, then binds the token to the proof's key", () =>
    Effect.gen(function*() {
      const key = yield* holder
      const { tokenEndpoint } = yield* TokenServer.TokenServer
      const first = yield* requestToken(yield* proofOf(key, { htm: "POST", htu: tokenEndpoint }))
      assert.strictEqual(first.status, 400)
      assert.strictEqual(first.body.error, "use_dpop_nonce")
      assert.isString(first.nonce)
      const second = yield* requestToken(yield* proofOf(key, { htm: "POST", htu: tokenEndpoint, nonce: first.nonce! }))
      assert.strictEqual(second.status, 200)
      assert.strictEqual(second.body.token_type, "DPoP")
      assert.deepStrictEqual(Jose.decodeJwt(second.body.access_token).cnf, { jkt: key.jkt })
      const server = yield* TokenServer.TokenServer
      const records = yield* server.tokenRequests
      assert.deepStrictEqual(records.map((request) => [request.error, request.dpop]), [
        ["use_dpop_nonce", { jkt: undefined }],
        [undefined, { jkt: key.jkt }]
      ])
    }).pipe(Effect.provide(strict)))

  it.scoped("refuses a request without a proof when DPoP is required", () =>
    Effect.gen(function*() {
      const response = yield* requestToken(undefined)
      assert.strictEqual(response.status, 400)
      // oidc-provider answers `invalid_grant` ("DPoP proof JWT not provided")
      assert.strictEqual(response.body.error, "invalid_grant")
      const [record] = yield* (yield* TokenServer.TokenServer).tokenRequests
      assert.isFalse("dpop" in record!)
    }).pipe(Effect.provide(strict)))

  it.scoped("issues bearer tokens without a proof when DPoP is not required", () =>
    Effect.gen(function*() {
      const response = yield* requestToken(undefined)
      assert.strictEqual(response.body.token_type, "Bearer")
      assert.isUndefined(Jose.decodeJwt(response.body.access_token).cnf)
    }).pipe(Effect.provide(servers({}))))
})

describe("ProtectedApi with DPoP", () => {
  it.scoped("asks for its nonce, then accepts a proof that carries it", () =>
    Effect.gen(function*() {
      const key = yield* holder
      const token = yield* dpopToken(key)
      const htu = yield* apiUrl
      const first = yield* callApi(`DPoP ${token}`, yield* proofOf(key, { htm: "GET", htu, ath: ath(token) }))
      assert.strictEqual(first.status, 401)
      assert.match(first.wwwAuthenticate, /^DPoP error="use_dpop_nonce"/)
      assert.isString(first.nonce)
      const second = yield* callApi(
        `DPoP ${token}`,
        yield* proofOf(key, { htm: "GET", htu, ath: ath(token), nonce: first.nonce! }),
        "GET",
        "?page=1"
      )
      assert.strictEqual(second.status, 200)
      assert.strictEqual(second.nonce, first.nonce)
      const api = yield* ProtectedApi.ProtectedApi
      assert.deepStrictEqual((yield* api.requests).map((request) => [request.scheme, request.status, request.error]), [
        ["DPoP", 401, "use_dpop_nonce"],
        ["DPoP", 200, undefined]
      ])
      yield* api.rotateNonce
      const stale = yield* callApi(
        `DPoP ${token}`,
        yield* proofOf(key, { htm: "GET", htu, ath: ath(token), nonce: first.nonce! })
      )
      assert.strictEqual(stale.status, 401)
      assert.match(stale.wwwAuthenticate, /error="use_dpop_nonce"/)
      assert.notStrictEqual(stale.nonce, first.nonce)
    }).pipe(Effect.provide(strict)))

  it.scoped("refuses a bound token without its proof, and every proof that does not fit the request", () =>
    Effect.gen(function*() {
      const key = yield* holder
      const other = yield* holder
      const token = yield* dpopToken(key)
      const htu = yield* apiUrl
      const nonce = (yield* callApi(undefined)).nonce!
      const good = { htm: "GET", htu, ath: ath(token), nonce }
      const replayed = yield* proofOf(key, good)
      assert.strictEqual((yield* callApi(`DPoP ${token}`, replayed)).status, 200)
      const refusals: ReadonlyArray<
        readonly [string, Effect.Effect<{ status: number; wwwAuthenticate: string }, never, ProtectedApi.ProtectedApi>]
      > = [
        ["invalid_token", callApi(`Bearer ${token}`)],
        ["invalid_dpop_proof", callApi(`DPoP ${token}`)],
        ["invalid_dpop_proof", callApi(`DPoP ${token}`, replayed)],
        [
          "invalid_dpop_proof",
          Effect.flatMap(proofOf(key, { ...good, htm: "POST" }), (p) => callApi(`DPoP ${token}`, p))
        ],
        [
          "invalid_dpop_proof",
          Effect.flatMap(proofOf(key, { ...good, htu: `${htu}x` }), (p) => callApi(`DPoP ${token}`, p))
        ],
        [
          "invalid_dpop_proof",
          Effect.flatMap(proofOf(key, { ...good, ath: ath("x") }), (p) => callApi(`DPoP ${token}`, p))
        ],
        [
          "invalid_dpop_proof",
          Effect.flatMap(
            proofOf(key, { ...good, iat: Math.floor(Date.now() / 1000) - 600 }),
            (p) => callApi(`DPoP ${token}`, p)
          )
        ],
        ["invalid_dpop_proof", Effect.flatMap(proofOf(other, good), (p) => callApi(`DPoP ${token}`, p))],
        // htu compared literally (RFC 9449 §4.3): the same resource spelled otherwise is refused.
        ...[
          htu.replace("http://", "HTTP://"),
          htu.replace("/test", "/x/../test"),
          htu.replace("http://", "http://user:pass@"),
          `${htu}?page=1`
        ].map((spelling) =>
          [
            "invalid_dpop_proof",
            Effect.flatMap(proofOf(key, { ...good, htu: spelling }), (p) => callApi(`DPoP ${token}`, p))
          ] as const
        )
      ]
      for (const [error, call] of refusals) {
        const response = yield* call
        assert.strictEqual(response.status, 401)
        assert.include(response.wwwAuthenticate, `DPoP error="${error}"`)
      }
    }).pipe(Effect.provide(strict)))

  it.scoped("takes POST requests too", () =>
    Effect.gen(function*() {
      const key = yield* holder
      const token = yield* dpopToken(key)
      const htu = yield* apiUrl
      const nonce = (yield* callApi(undefined)).nonce!
      const response = yield* callApi(
        `DPoP ${token}`,
        yield* proofOf(key, { htm: "POST", htu, ath: ath(token), nonce }),
        "POST"
      )
      assert.strictEqual(response.status, 200)
    }).pipe(Effect.provide(strict)))
})
