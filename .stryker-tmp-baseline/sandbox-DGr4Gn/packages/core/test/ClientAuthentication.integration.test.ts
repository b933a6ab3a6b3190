/**
 * Client assertions and the JWT bearer grant against real token endpoints: oidc-provider made
 * strict about the assertion audience, and a Google-like token endpoint that verifies a service
 * account's assertion. Live clock: the servers check `iat` and `exp` against real time.
 */
// @ts-nocheck

import type { ClientAuthentication } from "@access-token/core"
import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { LoopbackServer, TokenServer } from "@access-token/testing"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Redacted, Schedule } from "effect"
import * as Jose from "jose"
import * as Crypto from "node:crypto"

const pemOf = (pair: Crypto.KeyPairKeyObjectResult): string =>
  pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string

const publicJwk = (pair: Crypto.KeyPairKeyObjectResult, kid: string): JsonWebKey =>
  ({ ...pair.publicKey.export({ format: "jwk" }), kid }) as JsonWebKey

const rsa = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
const rsaForPss = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
const ec = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const ed25519 = Crypto.generateKeyPairSync("ed25519")
const stranger = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const SHARED_SECRET = "a-shared-secret-long-enough-for-HS256-0123456789"

const keyClients: ReadonlyArray<
  readonly [name: string, pair: Crypto.KeyPairKeyObjectResult, algorithm: ClientAuthentication.SigningAlgorithm]
> = [
  ["rsa", rsa, "RS256"],
  ["rsa-pss", rsaForPss, "PS256"],
  ["ec", ec, "ES256"],
  ["ed25519", ed25519, "EdDSA"]
]

const server = TokenServer.make({
  strictAssertionAudience: true,
  clients: [
    ...keyClients.map(([name, pair, algorithm]) => ({
      clientId: name,
      tokenEndpointAuthMethod: "private_key_jwt" as const,
      // The server takes only this algorithm from the client: PS256 must not fall back to RS256.
      tokenEndpointAuthSigningAlg: algorithm === "EdDSA" ? undefined : algorithm,
      jwks: { keys: [publicJwk(pair, `${name}-key`)] }
    })),
    { clientId: "hmac", clientSecret: SHARED_SECRET, tokenEndpointAuthMethod: "client_secret_jwt" as const }
  ]
})

/** A token service on `httpClient`, retrying twice at once. */
const tokenService = (
  clients: Record<string, ClientCredentialsClient.Input>,
  httpClient: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
) =>
  Layer.build(
    TokenService.layer({ clients }).pipe(
      Layer.provide([
        TokenEndpointClient.layer({ retrySchedule: Schedule.recurs(2) }),
        TokenCache.layerMemory()
      ]),
      Layer.provide(httpClient)
    )
  ).pipe(Effect.map(Context.get(TokenService.TokenService)))

const claims = (token: { readonly value: Redacted.Redacted<string> }) => Jose.decodeJwt(Redacted.value(token.value))

/** An undici client that records every client assertion it sends, and lets `reply` replace an answer. */
const recording = (
  sent: Array<string>,
  reply: (response: HttpClientResponse.HttpClientResponse) => HttpClientResponse.HttpClientResponse = (r) => r
) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      client.pipe(
        HttpClient.mapRequest((request) => {
          if (request.method === "POST" && request.body._tag === "Uint8Array") {
            const assertion = new URLSearchParams(new TextDecoder().decode(request.body.body)).get("client_assertion")
            if (assertion !== null) sent.push(assertion)
          }
          return request
        }),
        HttpClient.transformResponse(Effect.map(reply))
      ))
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

describe("private_key_jwt and client_secret_jwt against oidc-provider, strict about the audience", () => {
  for (const [name, pair, algorithm] of keyClients) {
    it.scopedLive(`private_key_jwt with ${name} (${algorithm})`, () =>
      Effect.gen(function*() {
        const tokenServer = yield* server
        const tokens = yield* tokenService({
          [name]: {
            issuer: tokenServer.issuer,
            clientId: name,
            authentication: {
              method: "private_key_jwt",
              privateKey: Redacted.make(pemOf(pair)),
              keyId: `${name}-key`,
              algorithm
            }
          }
        })
        const token = yield* tokens.getToken(name)
        assert.strictEqual(claims(token).client_id, name)
        const requests = (yield* tokenServer.tokenRequests).filter((request) => request.clientId === name)
        assert.deepStrictEqual(requests.map((r) => [r.clientAuthMethod, r.outcome]), [["private_key_jwt", "success"]])
      }))
  }

  it.scopedLive("client_secret_jwt", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const tokens = yield* tokenService({
        hmac: {
          issuer: tokenServer.issuer,
          clientId: "hmac",
          clientSecret: Redacted.make(SHARED_SECRET),
          authentication: { method: "client_secret_jwt" }
        }
      })
      const token = yield* tokens.getToken("hmac")
      assert.strictEqual(claims(token).client_id, "hmac")
      const requests = yield* tokenServer.tokenRequests
      assert.deepStrictEqual(requests.map((r) => [r.clientAuthMethod, r.outcome]), [["client_secret_jwt", "success"]])
    }))

  it.scopedLive("the strict server refuses an assertion addressed to the token endpoint: the check can fail", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const tokens = yield* tokenService({
        ec: {
          tokenEndpoint: tokenServer.tokenEndpoint,
          clientId: "ec",
          authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(ec)), audience: "tokenEndpoint" }
        }
      })
      const error = yield* Effect.flip(tokens.getToken("ec"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      assert.strictEqual(error._tag === "TokenRefusedError" ? error.error : undefined, "invalid_client")
    }))

  it.scopedLive("without discovery, the issuer given as the audience itself, from code and from the environment", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      // The client knows the token endpoint only; the strict server wants the issuer as aud.
      const fromEnv = yield* Effect.withConfigProvider(
        ClientCredentialsClient.config("IDP"),
        ConfigProvider.fromMap(
          new Map([
            ["IDP_TOKEN_ENDPOINT", tokenServer.tokenEndpoint],
            ["IDP_CLIENT_ID", "rsa"],
            ["IDP_PRIVATE_KEY", pemOf(rsa)],
            ["IDP_ASSERTION_AUDIENCE", tokenServer.issuer]
          ]),
          { pathDelim: "_" }
        )
      )
      const tokens = yield* tokenService({
        ec: {
          tokenEndpoint: tokenServer.tokenEndpoint,
          clientId: "ec",
          authentication: {
            method: "private_key_jwt",
            privateKey: Redacted.make(pemOf(ec)),
            audience: tokenServer.issuer
          }
        },
        rsa: fromEnv
      })
      assert.strictEqual(claims(yield* tokens.getToken("ec")).client_id, "ec")
      assert.strictEqual(claims(yield* tokens.getToken("rsa")).client_id, "rsa")
      const requests = yield* tokenServer.tokenRequests
      assert.deepStrictEqual(requests.map((r) => [r.clientId, r.clientAuthMethod, r.outcome]), [
        ["ec", "private_key_jwt", "success"],
        ["rsa", "private_key_jwt", "success"]
      ])
    }))

  it.scopedLive("an audience the server does not answer to is refused: the check can fail", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const tokens = yield* tokenService({
        ec: {
          tokenEndpoint: tokenServer.tokenEndpoint,
          clientId: "ec",
          authentication: {
            method: "private_key_jwt",
            privateKey: Redacted.make(pemOf(ec)),
            audience: `${tokenServer.issuer}/elsewhere`
          }
        }
      })
      const error = yield* Effect.flip(tokens.getToken("ec"))
      assert.strictEqual(error._tag === "TokenRefusedError" ? error.error : error._tag, "invalid_client")
    }))

  it.scopedLive("a wrong key: invalid_client, typed, and never retried", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      const tokens = yield* tokenService({
        ec: {
          issuer: tokenServer.issuer,
          clientId: "ec",
          authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(stranger)) }
        }
      })
      const error = yield* Effect.flip(tokens.getToken("ec"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      if (error._tag !== "TokenRefusedError") return
      assert.strictEqual(error.error, "invalid_client")
      assert.strictEqual(error.status, 401)
      assert.strictEqual(yield* tokenServer.tokenRequestCount, 1)
    }))

  it.scopedLive("two attempts of one acquisition (a 503, then success) carry different jtis", () =>
    Effect.gen(function*() {
      const tokenServer = yield* server
      // The first token request reaches the server, which accepts its assertion (and so records
      // its jti), but the client sees a 503: the retry must sign a new assertion, or the server
      // refuses it as a replay.
      const sent: Array<string> = []
      const flaky = recording(sent, (response) =>
        response.request.method === "POST" && sent.length === 1
          ? HttpClientResponse.fromWeb(response.request, new Response("", { status: 503 }))
          : response)
      const tokens = yield* tokenService({
        ec: {
          issuer: tokenServer.issuer,
          clientId: "ec",
          authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(ec)) }
        }
      }, flaky)
      yield* tokens.getToken("ec")
      assert.strictEqual(sent.length, 2)
      const [first, second] = sent.map((assertion) => Jose.decodeJwt(assertion))
      assert.notStrictEqual(first.jti, second.jti)
      assert.strictEqual(first.aud, tokenServer.issuer)
      const requests = yield* tokenServer.tokenRequests
      assert.deepStrictEqual(requests.map((r) => r.outcome), ["success", "success"])
    }))
})

describe("with DPoP", () => {
  it.scopedLive("a nonce retry signs a new assertion too", () =>
    Effect.gen(function*() {
      const tokenServer = yield* TokenServer.make({
        strictAssertionAudience: true,
        dpop: { required: true, requireNonce: true },
        clients: [{
          clientId: "ec",
          tokenEndpointAuthMethod: "private_key_jwt",
          jwks: { keys: [publicJwk(ec, "ec-key")] }
        }]
      })
      const sent: Array<string> = []
      const tokens = yield* tokenService({
        ec: {
          issuer: tokenServer.issuer,
          clientId: "ec",
          authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(ec)) },
          dpop: true
        }
      }, recording(sent))
      const token = yield* tokens.getToken("ec")
      assert.strictEqual(token.type, "DPoP")
      const requests = yield* tokenServer.tokenRequests
      assert.deepStrictEqual(requests.map((r) => [r.clientAuthMethod, r.outcome, r.error]), [
        ["private_key_jwt", "error", "use_dpop_nonce"],
        ["private_key_jwt", "success", undefined]
      ])
      assert.strictEqual(sent.length, 2)
      assert.notStrictEqual(Jose.decodeJwt(sent[0]).jti, Jose.decodeJwt(sent[1]).jti)
    }))
})

describe("the JWT bearer grant", () => {
  /** A Google-like token endpoint: the grant's assertion is checked in every way Google checks it. */
  const googleLike = (publicKey: Crypto.KeyObject, clientEmail: string) =>
    Effect.gen(function*() {
      const refusals: Array<string> = []
      let tokenUri = ""
      const endpoint = yield* LoopbackServer.make((request, response) => {
        const reply = (status: number, body: object) => {
          response.writeHead(status, { "content-type": "application/json" })
          response.end(JSON.stringify(body))
        }
        const form = new URLSearchParams(request.body)
        const refuse = (reason: string) => {
          refusals.push(reason)
          reply(400, { error: "invalid_grant", error_description: reason })
        }
        if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return refuse("grant_type")
        if (form.has("client_id") || form.has("scope")) return refuse("only grant_type and assertion are expected")
        Jose.jwtVerify(form.get("assertion") ?? "", publicKey, { issuer: clientEmail, audience: tokenUri }).then(
          ({ payload, protectedHeader }) => {
            if (protectedHeader.kid !== "sa-key-1") return refuse("kid")
            if (payload.scope !== "https://www.googleapis.com/auth/cloud-platform") return refuse("scope")
            if (payload.iat === undefined || payload.exp === undefined || payload.exp - payload.iat > 3600) {
              return refuse("at most one hour")
            }
            reply(200, { access_token: `token-${payload.jti}`, token_type: "Bearer", expires_in: 3599 })
          },
          (error: unknown) => refuse(String(error))
        )
      })
      tokenUri = `${endpoint.origin}/token`
      return { endpoint, tokenUri, refusals }
    })

  it.scopedLive("a service-account key file, as it is: verified, cached and coalesced like any token", () =>
    Effect.gen(function*() {
      const pair = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      const clientEmail = "worker@a-project.iam.gserviceaccount.com"
      const google = yield* googleLike(pair.publicKey, clientEmail)
      // What the cloud console hands out, made here.
      const keyFile = JSON.stringify({
        type: "service_account",
        project_id: "a-project",
        private_key_id: "sa-key-1",
        private_key: pemOf(pair),
        client_email: clientEmail,
        client_id: "112233445566778899",
        auth_uri: "https://accounts.google.com/o/oauth2/auth",
        token_uri: google.tokenUri,
        universe_domain: "googleapis.com"
      })
      const tokens = yield* tokenService({
        google: {
          grant: { serviceAccountKey: Redacted.make(keyFile) },
          scope: "https://www.googleapis.com/auth/cloud-platform"
        }
      })
      const all = yield* Effect.all(Array.from({ length: 10 }, () => tokens.getToken("google")), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(google.refusals, [])
      assert.strictEqual(google.endpoint.requests.length, 1)
      assert.strictEqual(new Set(all.map((token) => Redacted.value(token.value))).size, 1)
      yield* tokens.getToken("google")
      assert.strictEqual(google.endpoint.requests.length, 1)
    }))

  it.scopedLive("the endpoint refuses what it should: the checks can fail", () =>
    Effect.gen(function*() {
      const pair = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      const google = yield* googleLike(pair.publicKey, "worker@a-project.iam.gserviceaccount.com")
      const tokens = yield* tokenService({
        google: {
          tokenEndpoint: google.tokenUri,
          clientId: "worker@a-project.iam.gserviceaccount.com",
          grant: { privateKey: Redacted.make(pemOf(pair)), keyId: "sa-key-1", audience: "tokenEndpoint" },
          scope: "https://www.googleapis.com/auth/cloud-platform"
        }
      })
      const error = yield* Effect.flip(tokens.getToken("google"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      assert.deepStrictEqual(google.refusals, ["only grant_type and assertion are expected"])
    }))
})
