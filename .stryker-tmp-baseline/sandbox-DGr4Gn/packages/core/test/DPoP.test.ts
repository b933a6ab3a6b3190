// @ts-nocheck
import {
  AccessToken,
  ClientCredentialsClient,
  DPoP,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenService
} from "@access-token/core"
import { SpanRecorder, TokenServer } from "@access-token/testing"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Inspectable,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  TestClock
} from "effect"
import * as Jose from "jose"
import * as Crypto from "node:crypto"
import * as Util from "node:util"
import { resolve } from "../src/internal/tokenRequest.js"

const NOW = 1_750_000_000_000

/** Verifies a proof as a DPoP server does: signature by the embedded key, type, algorithm. */
const verify = (proof: Redacted.Redacted<string>) =>
  Effect.promise(() => Jose.jwtVerify(Redacted.value(proof), Jose.EmbeddedJWK, { typ: "dpop+jwt" }))

const renderings = (value: unknown): ReadonlyArray<string> => [
  String(value),
  Util.inspect(value, { depth: 10, getters: true, showHidden: true }),
  Inspectable.toStringUnknown(value),
  JSON.stringify(value) ?? ""
]

/** A private key as a user would configure it: JWK text and PKCS#8 PEM. */
const privateMaterial = (alg: string) =>
  Effect.promise(async () => {
    const { privateKey } = await Jose.generateKeyPair(alg, { extractable: true })
    const jwk = await Jose.exportJWK(privateKey)
    const pem = await Jose.exportPKCS8(privateKey)
    return { jwk, pem }
  })

const sha256 = (text: string) => Crypto.createHash("sha256").update(text).digest("base64url")

describe("DPoP", () => {
  describe("proof", () => {
    it.effect("is a dpop+jwt signed by the key in its header, which carries only the public key", () =>
      Effect.gen(function*() {
        const key = yield* DPoP.generate()
        const proof = yield* DPoP.proof(key, { method: "POST", url: "https://as.example.com/token" })
        const { protectedHeader } = yield* verify(proof)
        assert.strictEqual(protectedHeader.typ, "dpop+jwt")
        assert.strictEqual(protectedHeader.alg, "ES256")
        assert.deepStrictEqual(Object.keys(protectedHeader.jwk!).sort(), ["crv", "kty", "x", "y"])
        assert.strictEqual(
          yield* Effect.promise(() => Jose.calculateJwkThumbprint(protectedHeader.jwk!)),
          key.thumbprint
        )
        assert.deepStrictEqual(protectedHeader.jwk, { ...key.publicJwk })
      }))

    it.effect("names the method, the URL without query and fragment, the time from Clock, and a fresh jti", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW + 999)
        const key = yield* DPoP.generate()
        const request = { method: "get", url: "https://api.example.com:8443/v1/items?page=2#top" }
        const first = (yield* verify(yield* DPoP.proof(key, request))).payload
        const second = (yield* verify(yield* DPoP.proof(key, request))).payload
        assert.strictEqual(first.htm, "GET")
        assert.strictEqual(first.htu, "https://api.example.com:8443/v1/items")
        assert.strictEqual(first.iat, NOW / 1000)
        assert.isString(first.jti)
        assert.notStrictEqual(first.jti, second.jti)
        assert.isUndefined(first.nonce)
        assert.isUndefined(first.ath)
      }))

    it.effect("names the target URI the transport sends: normalised, percent-encoded, without userinfo", () =>
      Effect.gen(function*() {
        const key = yield* DPoP.generate()
        const htu = (url: string) =>
          Effect.map(DPoP.proof(key, { method: "GET", url }), (proof) => Jose.decodeJwt(Redacted.value(proof)).htu)
        // RFC 9449 §4.2 and RFC 9110 §4.2.4: a verifier may compare literally, and userinfo is never sent.
        assert.strictEqual(yield* htu("https://api.example.com:443/orders"), "https://api.example.com/orders")
        assert.strictEqual(yield* htu("http://api.example.com:80/orders"), "http://api.example.com/orders")
        assert.strictEqual(yield* htu("HTTPS://API.Example.COM/orders"), "https://api.example.com/orders")
        assert.strictEqual(yield* htu("https://api.example.com/v1/../v2/./orders"), "https://api.example.com/v2/orders")
        assert.strictEqual(yield* htu("https://api.example.com/a b/über"), "https://api.example.com/a%20b/%C3%BCber")
        assert.strictEqual(
          yield* htu("https://user:pass@api.example.com/orders?x=1#y"),
          "https://api.example.com/orders"
        )
        assert.strictEqual(yield* htu("https://api.example.com"), "https://api.example.com/")
      }))

    it.effect("carries the nonce when given, and ath, the SHA-256 of the access token, on resource requests", () =>
      Effect.gen(function*() {
        const key = yield* DPoP.generate()
        const token = Redacted.make("eyJ0eXAiOiJhdCtqd3QifQ.access.token")
        const { payload } = yield* verify(
          yield* DPoP.proof(key, {
            method: "DELETE",
            url: new URL("https://api.example.com/v1/items/7"),
            nonce: "n-0123",
            accessToken: token
          })
        )
        assert.strictEqual(payload.nonce, "n-0123")
        assert.strictEqual(payload.ath, sha256(Redacted.value(token)))
        assert.strictEqual(yield* DPoP.accessTokenHash(token), sha256(Redacted.value(token)))
      }))
  })

  describe("importKey", () => {
    it.effect("takes a private JWK, infers its algorithm and signs verifiable proofs with it", () =>
      Effect.gen(function*() {
        for (const [generatedAs, expected] of [["ES256", "ES256"], ["ES384", "ES384"], ["Ed25519", "Ed25519"]]) {
          const { jwk } = yield* privateMaterial(generatedAs)
          const key = yield* DPoP.importKey(Redacted.make(JSON.stringify(jwk)))
          assert.strictEqual(key.algorithm, expected)
          const { d: _d, ...publicJwk } = jwk
          assert.strictEqual(key.thumbprint, yield* Effect.promise(() => Jose.calculateJwkThumbprint(publicJwk)))
          const { protectedHeader } = yield* verify(yield* DPoP.proof(key, { method: "POST", url: "https://a/b" }))
          assert.strictEqual(protectedHeader.alg, expected)
        }
      }))

    it.effect("takes a PKCS#8 PEM, EC or RSA, and an explicit algorithm", () =>
      Effect.gen(function*() {
        const ec = yield* privateMaterial("ES256")
        const fromPem = yield* DPoP.importKey(Redacted.make(ec.pem))
        const fromJwk = yield* DPoP.importKey(Redacted.make(JSON.stringify(ec.jwk)))
        assert.strictEqual(fromPem.algorithm, "ES256")
        assert.strictEqual(fromPem.thumbprint, fromJwk.thumbprint)
        const rsa = yield* privateMaterial("PS256")
        const rsaKey = yield* DPoP.importKey(Redacted.make(rsa.pem))
        assert.strictEqual(rsaKey.algorithm, "PS256")
        const rs256 = yield* DPoP.importKey(Redacted.make(rsa.pem), { algorithm: "RS256" })
        const { protectedHeader } = yield* verify(yield* DPoP.proof(rs256, { method: "GET", url: "https://a/" }))
        assert.strictEqual(protectedHeader.alg, "RS256")
        assert.deepStrictEqual(Object.keys(protectedHeader.jwk!).sort(), ["e", "kty", "n"])
      }))

    it.effect("refuses unusable material with a typed error that never quotes it", () =>
      Effect.gen(function*() {
        const { jwk, pem } = yield* privateMaterial("ES256")
        const { d, ...publicJwk } = jwk
        const cases: ReadonlyArray<readonly [string, string | undefined, string]> = [
          ["not a key at all", undefined, "neither a JSON Web Key nor a PKCS#8 PEM"],
          [JSON.stringify(publicJwk), undefined, "is a public key"],
          [JSON.stringify({ kty: "oct", k: d }), undefined, "symmetric"],
          [JSON.stringify(jwk), "ES384", "cannot be imported as a ES384"],
          [JSON.stringify(jwk), "PS256", "cannot be imported as a PS256"],
          [pem.replace("PRIVATE KEY", "EC PRIVATE KEY").replace("PRIVATE KEY", "EC PRIVATE KEY"), undefined, "PKCS#8"],
          [pem.replace(/[A-Za-z]{8}/, "AAAAAAAA"), undefined, "not a PKCS#8 private key"],
          ["[1, 2]", undefined, "not a JSON Web Key object"]
        ]
        for (const [material, algorithm, reason] of cases) {
          const exit = yield* Effect.exit(
            DPoP.importKey(Redacted.make(material), { algorithm: algorithm as DPoP.Algorithm | undefined })
          )
          assert.isTrue(Exit.isFailure(exit), reason)
          if (Exit.isFailure(exit)) {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            assert.instanceOf(error, DPoP.KeyError)
            assert.include(error!.message, reason)
            for (const text of [...renderings(error), error!.stack ?? ""]) {
              assert.notInclude(text, d!)
              assert.notInclude(text, pem.split("\n")[1]!)
            }
          }
        }
      }))

    it.effect("is generated in memory for another algorithm on request", () =>
      Effect.gen(function*() {
        const key = yield* DPoP.generate("Ed25519")
        const { protectedHeader } = yield* verify(yield* DPoP.proof(key, { method: "GET", url: "https://a/" }))
        assert.strictEqual(protectedHeader.alg, "Ed25519")
        assert.strictEqual(protectedHeader.jwk!.crv, "Ed25519")
      }))
  })

  describe("the private key", () => {
    it.effect("appears in no rendering of the key, and cannot be exported", () =>
      Effect.gen(function*() {
        const { jwk, pem } = yield* privateMaterial("ES256")
        const pemBody = pem.split("\n").slice(1, -2).join("")
        for (const material of [JSON.stringify(jwk), pem]) {
          const key = yield* DPoP.importKey(Redacted.make(material))
          for (const text of renderings(key)) {
            assert.notInclude(text, jwk.d!)
            assert.notInclude(text, pemBody.slice(0, 40))
            assert.include(text, key.thumbprint)
          }
          assert.deepStrictEqual(Object.keys(JSON.parse(JSON.stringify(key))).sort(), [
            "_id",
            "algorithm",
            "thumbprint"
          ])
          // Nothing reachable from the key is a CryptoKey: the private half lives elsewhere.
          const reachable = Object.values(key).concat(Object.getOwnPropertySymbols(key).map((s) => (key as any)[s]))
          assert.isFalse(reachable.some((value) => value instanceof CryptoKey))
        }
      }))

    it.effect("is never in a proof, which renders as redacted until it is written out", () =>
      Effect.gen(function*() {
        const { jwk } = yield* privateMaterial("ES256")
        const key = yield* DPoP.importKey(Redacted.make(JSON.stringify(jwk)))
        const proof = yield* DPoP.proof(key, { method: "GET", url: "https://a/" })
        for (const text of renderings(proof)) assert.notInclude(text, Redacted.value(proof).slice(0, 20))
        const [header, payload] = Redacted.value(proof).split(".")
        const decoded = [header, payload].map((part) => Buffer.from(part!, "base64url").toString("utf8")).join("")
        assert.notInclude(decoded, jwk.d!)
        assert.notInclude(decoded, "\"d\"")
      }))
  })

  describe("settings", () => {
    it.effect("come from configuration: a key, a generated key, or none", () =>
      Effect.gen(function*() {
        const { jwk } = yield* privateMaterial("ES256")
        const read = (map: Record<string, string>) =>
          Effect.withConfigProvider(DPoP.config, ConfigProvider.fromMap(new Map(Object.entries(map))))
        assert.isUndefined(yield* read({}))
        assert.isUndefined(yield* read({ DPOP: "false" }))
        const configured = yield* read({ DPOP_KEY: JSON.stringify(jwk), DPOP_ALLOW_BEARER: "true" })
        assert.isTrue(Redacted.isRedacted(configured!.key))
        const fromKey = yield* DPoP.settings(configured!)
        const { d: _d, ...publicJwk } = jwk
        assert.strictEqual(fromKey.key.thumbprint, yield* Effect.promise(() => Jose.calculateJwkThumbprint(publicJwk)))
        assert.isTrue(fromKey.allowBearer)
        for (const text of renderings(fromKey)) assert.notInclude(text, jwk.d!)
        const generated = yield* DPoP.settings((yield* read({ DPOP: "true", DPOP_ALGORITHM: "ES384" }))!)
        assert.strictEqual(generated.key.algorithm, "ES384")
        assert.isFalse(generated.allowBearer)
        assert.strictEqual((yield* DPoP.settings(true)).key.algorithm, "ES256")
      }))
  })

  describe("client configuration", () => {
    it.effect("reads the key under the client's prefix, and a bad one fails when the client is made", () =>
      Effect.gen(function*() {
        const { jwk } = yield* privateMaterial("ES256")
        const env = (entries: Record<string, string>) =>
          ConfigProvider.fromMap(
            new Map(Object.entries({
              API_TOKEN_ENDPOINT: "https://as.example.com/token",
              API_CLIENT_ID: "worker",
              API_AUTHENTICATION: "none",
              ...entries
            })),
            { pathDelim: "_" }
          )
        const input = yield* Effect.withConfigProvider(
          ClientCredentialsClient.config("API"),
          env({ API_DPOP_KEY: JSON.stringify(jwk) })
        )
        const client = yield* ClientCredentialsClient.make(input)
        const { d: _d, ...publicJwk } = jwk
        assert.strictEqual(
          client.dpop!.key.thumbprint,
          yield* Effect.promise(() => Jose.calculateJwkThumbprint(publicJwk))
        )
        const plain = yield* ClientCredentialsClient.make(
          yield* Effect.withConfigProvider(ClientCredentialsClient.config("API"), env({}))
        )
        assert.isUndefined(plain.dpop)
        const bad = yield* Effect.withConfigProvider(
          ClientCredentialsClient.config("API"),
          env({ API_DPOP_KEY: JSON.stringify({ ...jwk, crv: "P-384" }) })
        )
        const error = yield* Effect.flip(ClientCredentialsClient.make(bad))
        assert.strictEqual(error._tag, "ClientConfigurationError")
        assert.notInclude(error.message, jwk.d!)
      }))
  })

  describe("token requests", () => {
    const strictServer = TokenServer.make({ dpop: { required: true, requireNonce: true } })

    /** A `TokenCache` on a store shared by several services, as Redis is by replicas; it keeps what it was given. */
    const sharedStore = () => {
      const entries = new Map<string, AccessToken.AccessToken>()
      const cache = TokenCache.make({
        get: (key) => Effect.sync(() => Option.fromNullable(entries.get(key))),
        set: (key, token) => Effect.sync(() => void entries.set(key, token)),
        remove: (key) => Effect.sync(() => void entries.delete(key))
      })
      return { entries, cache }
    }

    const service = (
      server: TokenServer.TokenServer.Service,
      dpop: ClientCredentialsClient.Input["dpop"],
      cache: TokenCache.TokenCache.Service
    ) =>
      Effect.gen(function*() {
        const [client] = server.clients
        const context = yield* Layer.build(
          TokenService.layer({
            clients: {
              api: {
                tokenEndpoint: server.tokenEndpoint,
                clientId: client!.clientId,
                clientSecret: client!.clientSecret,
                scope: "api",
                dpop
              }
            }
          }).pipe(
            Layer.provide([TokenEndpointClient.layer(), Layer.succeed(TokenCache.TokenCache, cache)]),
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
        return Context.get(context, TokenService.TokenService)
      })

    it.scopedLive("get a token bound to the client's key, answering the server's nonce with one more request", () =>
      Effect.gen(function*() {
        const server = yield* strictServer
        const tokens = yield* service(server, true, sharedStore().cache)
        const token = yield* tokens.getToken("api")
        const key = (yield* tokens.client("api")).dpop!.key
        assert.strictEqual(token.type, "DPoP")
        assert.deepStrictEqual(Jose.decodeJwt(Redacted.value(token.value)).cnf, { jkt: key.thumbprint })
        assert.deepStrictEqual((yield* server.tokenRequests).map((request) => [request.error, request.dpop]), [
          ["use_dpop_nonce", { jkt: undefined }],
          [undefined, { jkt: key.thumbprint }]
        ])
        // The nonce is remembered: the next token request needs no second try.
        yield* tokens.getToken("api", { forceRenewal: true })
        assert.strictEqual(yield* server.tokenRequestCount, 3)
      }))

    it.scopedLive("hand a token out carrying the key it is bound to, which no rendering and no cache entry holds", () =>
      Effect.gen(function*() {
        const server = yield* strictServer
        const { cache, entries } = sharedStore()
        const tokens = yield* service(server, true, cache)
        const token = yield* tokens.getToken("api")
        const key = (yield* tokens.client("api")).dpop!.key
        assert.strictEqual(AccessToken.bindingOf(token)?.key, key)
        assert.isUndefined(AccessToken.bindingOf(token)?.certificate)
        // The cache holds the token without its binding; one read back is bound again when handed out.
        const [stored] = entries.values()
        assert.isUndefined(AccessToken.bindingOf(stored!))
        const encoded = yield* TokenCache.encodeStoredToken(token, Duration.minutes(1))
        assert.notInclude(JSON.stringify(encoded), key.thumbprint)
        for (const text of renderings(token)) assert.notInclude(text, key.thumbprint)
        const replica = yield* (yield* service(server, { key }, cache)).getToken("api")
        assert.strictEqual(Redacted.value(replica.value), Redacted.value(token.value))
        assert.strictEqual(AccessToken.bindingOf(replica)?.key, key)
        // A token the client allowed as Bearer is bound to no key.
        const made = AccessToken.make({ value: "t", receivedAt: token.receivedAt })
        assert.isUndefined(AccessToken.bindingOf(made))
      }))

    it.scopedLive("answer the nonce with a new client assertion too, which the server would refuse to see twice", () =>
      Effect.gen(function*() {
        const pair = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
        const server = yield* TokenServer.make({
          dpop: { required: true, requireNonce: true },
          clients: [{
            clientId: "signed",
            tokenEndpointAuthMethod: "private_key_jwt",
            jwks: {
              keys: [{ ...(yield* Effect.promise(() => Jose.exportJWK(pair.publicKey))), kid: "k1" } as JsonWebKey]
            }
          }]
        })
        const context = yield* Layer.build(
          TokenService.layer({
            clients: {
              api: {
                tokenEndpoint: server.tokenEndpoint,
                clientId: "signed",
                authentication: {
                  method: "private_key_jwt",
                  privateKey: Redacted.make(yield* Effect.promise(() => Jose.exportPKCS8(pair.privateKey))),
                  keyId: "k1",
                  audience: "tokenEndpoint"
                },
                scope: "api",
                dpop: true
              }
            }
          }).pipe(
            Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
        const token = yield* Context.get(context, TokenService.TokenService).getToken("api")
        assert.strictEqual(token.type, "DPoP")
        assert.deepStrictEqual(
          (yield* server.tokenRequests).map((request) => [request.clientAuthMethod, request.error]),
          [["private_key_jwt", "use_dpop_nonce"], ["private_key_jwt", undefined]]
        )
      }))

    it.scopedLive("share tokens between replicas with the same key, never between different keys", () =>
      Effect.gen(function*() {
        const server = yield* strictServer
        const { jwk } = yield* privateMaterial("ES256")
        const material = Redacted.make(JSON.stringify(jwk))
        const { cache, entries } = sharedStore()
        const first = yield* (yield* service(server, { key: material }, cache)).getToken("api")
        const replica = yield* (yield* service(server, { key: material }, cache)).getToken("api")
        assert.strictEqual(Redacted.value(replica.value), Redacted.value(first.value))
        const requests = yield* server.tokenRequestCount
        const other = yield* (yield* service(server, true, cache)).getToken("api")
        assert.notStrictEqual(Redacted.value(other.value), Redacted.value(first.value))
        assert.isAbove(yield* server.tokenRequestCount, requests)
        assert.strictEqual(entries.size, 2)
        // What the cache holds has no trace of either private key.
        for (const token of entries.values()) {
          for (const text of renderings(token)) assert.notInclude(text, jwk.d!)
          assert.notInclude(JSON.stringify(yield* TokenCache.encodeStoredToken(token, Duration.minutes(1))), jwk.d!)
        }
      }))

    it.effect("bind the cache key to the key's thumbprint, and leave other keys as they were", () =>
      Effect.gen(function*() {
        const input = {
          tokenEndpoint: "https://as.example.com/token",
          clientId: "c",
          scope: "api",
          authentication: "none"
        } as const
        const plain = yield* ClientCredentialsClient.make(input)
        const a = yield* ClientCredentialsClient.make({ ...input, dpop: true })
        const b = yield* ClientCredentialsClient.make({ ...input, dpop: true })
        const again = yield* ClientCredentialsClient.make({ ...input, dpop: a.dpop })
        const keyOf = (client: ClientCredentialsClient.ClientCredentialsClient) =>
          Either.getOrThrow(resolve(client)).localKey
        assert.notStrictEqual(keyOf(a), keyOf(b))
        assert.strictEqual(keyOf(again), keyOf(a))
        assert.notInclude(keyOf(plain), "dpop")
        assert.strictEqual(keyOf(a), keyOf(plain).slice(0, -1) + `,["dpop","${a.dpop!.key.thumbprint}"]]`)
      }))

    it.effect("refuse a bad key when the client is made, naming the field and never the key", () =>
      Effect.gen(function*() {
        const { jwk } = yield* privateMaterial("ES256")
        const { d, ...publicJwk } = jwk
        const exit = yield* Effect.exit(ClientCredentialsClient.make({
          tokenEndpoint: "https://as.example.com/token",
          clientId: "c",
          dpop: { key: Redacted.make(JSON.stringify(publicJwk)) }
        }))
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, TokenError.ClientConfigurationError)
        assert.strictEqual(error!.field, "dpop.key")
        assert.include(error!.message, "is a public key")
        assert.notInclude(error!.message, jwk.x!)
        assert.notInclude(error!.message, d!)
      }))

    /** A token endpoint that answers from a script and keeps each request's proof. */
    const scripted = (answers: ReadonlyArray<{ status: number; body: object; nonce?: string }>) => {
      const proofs: Array<string | undefined> = []
      const client = HttpClient.make((request) =>
        Effect.sync(() => {
          proofs.push(request.headers.dpop)
          const answer = answers[Math.min(proofs.length, answers.length) - 1]!
          return HttpClientResponse.fromWeb(
            request,
            new Response(JSON.stringify(answer.body), {
              status: answer.status,
              headers: {
                "content-type": "application/json",
                ...(answer.nonce === undefined ? {} : { "dpop-nonce": answer.nonce })
              }
            })
          )
        })
      )
      return { proofs, layer: Layer.succeed(HttpClient.HttpClient, client) }
    }

    const dpopAnswer = { status: 200, body: { access_token: "tok-1", token_type: "DPoP", expires_in: 300 } }
    const nonceAnswer = (nonce: string) => ({
      status: 400,
      body: { error: "use_dpop_nonce", error_description: "Authorization server requires nonce in DPoP proof" },
      nonce
    })

    const requestToken = (dpop: ClientCredentialsClient.Input["dpop"]) =>
      Effect.gen(function*() {
        const endpoint = yield* TokenEndpointClient.make()
        const client = yield* ClientCredentialsClient.make({
          tokenEndpoint: "https://as.example.com/token",
          clientId: "c",
          clientSecret: Redacted.make("s"),
          dpop
        })
        return yield* endpoint.requestToken(client)
      })

    it.effect("answer use_dpop_nonce with exactly one more request, with a new proof that carries the nonce", () =>
      Effect.gen(function*() {
        const { layer, proofs } = scripted([nonceAnswer("n-1"), dpopAnswer])
        const token = yield* Effect.provide(requestToken(true), layer)
        assert.strictEqual(token.type, "DPoP")
        assert.strictEqual(proofs.length, 2)
        const [first, second] = proofs.map((proof) => Jose.decodeJwt(proof!))
        assert.isUndefined(first!.nonce)
        assert.strictEqual(second!.nonce, "n-1")
        assert.notStrictEqual(first!.jti, second!.jti)
        assert.deepStrictEqual([second!.htm, second!.htu], ["POST", "https://as.example.com/token"])

        const again = scripted([nonceAnswer("n-1"), nonceAnswer("n-2"), dpopAnswer])
        const exit = yield* Effect.exit(Effect.provide(requestToken(true), again.layer))
        assert.strictEqual(again.proofs.length, 2)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual((error as TokenError.TokenRefusedError).error, "use_dpop_nonce")
      }))

    it.effect("refuse a Bearer answer to a DPoP request, unless the client allows it", () =>
      Effect.gen(function*() {
        const bearer = { status: 200, body: { access_token: "tok-1", token_type: "Bearer", expires_in: 300 } }
        const exit = yield* Effect.exit(Effect.provide(requestToken(true), scripted([bearer]).layer))
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, TokenError.InvalidTokenResponseError)
        // The status and content type are the answer's own, and the body shows its members, not the token.
        assert.strictEqual(
          error!.message,
          "The token endpoint sent client \"c\" an invalid token response (HTTP 200, application/json): " +
            "token_type is Bearer, not DPoP: the token endpoint ignored the DPoP proof, so the token is not bound " +
            "to the client's key (set dpop.allowBearer to accept such a token); " +
            `body: ${
              JSON.stringify(JSON.stringify({ access_token: "[redacted]", token_type: "[redacted]", expires_in: 300 }))
            }`
        )
        const allowed = yield* Effect.provide(requestToken({ allowBearer: true }), scripted([bearer]).layer)
        assert.strictEqual(allowed.type, "Bearer")
      }))

    it.effect("keep proofs and the key out of spans and logs", () =>
      Effect.gen(function*() {
        const { jwk } = yield* privateMaterial("ES256")
        const { layer, proofs } = scripted([nonceAnswer("n-1"), dpopAnswer])
        const logs: Array<string> = []
        const logger = Logger.make(({ annotations, cause, message }) => {
          logs.push(
            `${Inspectable.toStringUnknown(message)} ${Inspectable.toStringUnknown(annotations)} ${Cause.pretty(cause)}`
          )
        })
        const recorder = yield* SpanRecorder.make
        yield* Effect.provide(requestToken({ key: Redacted.make(JSON.stringify(jwk)) }), layer).pipe(
          Effect.tap(Effect.logDebug("done")),
          Effect.withTracer(recorder.tracer),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        assert.strictEqual(proofs.length, 2)
        const attributes = recorder.spans.flatMap((span) =>
          Array.from(span.attributes, ([key, value]) => `${key}=${String(value)}`)
        )
        assert.isNotEmpty(attributes)
        // Nothing any exporter could reach in a span holds a proof's signature or the private key.
        assert.deepStrictEqual(
          SpanRecorder.leaks(recorder.spans, [...proofs.map((proof) => proof!.split(".")[2]!), jwk.d!]),
          []
        )
        // Where the platform's client span shows request headers, the proof is masked.
        for (const attribute of attributes.filter((attribute) => attribute.startsWith("http.request.header.dpop="))) {
          assert.strictEqual(attribute, "http.request.header.dpop=<redacted>")
        }
        assert.isNotEmpty(logs)
        for (const text of [...attributes, ...logs]) {
          for (const proof of proofs) assert.notInclude(text, proof!.split(".")[2]!)
          assert.notInclude(text, jwk.d!)
        }
      }))
  })
})
