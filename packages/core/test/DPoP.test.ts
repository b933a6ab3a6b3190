import { DPoP } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Inspectable, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import * as Crypto from "node:crypto"
import * as Util from "node:util"
import { NonceStore } from "../src/internal/dpopProof.js"

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

  describe("nonces", () => {
    it.effect("are kept per origin and replaced by each response's DPoP-Nonce", () =>
      Effect.gen(function*() {
        const nonces = yield* DPoP.makeNonces()
        assert.isUndefined(yield* nonces.get("https://as.example.com/token"))
        assert.isTrue(yield* nonces.update("https://as.example.com/token?x=1", "n1"))
        assert.isFalse(yield* nonces.update("https://as.example.com/other", "n1"))
        assert.strictEqual(yield* nonces.get("https://AS.example.com/anything"), "n1")
        assert.isUndefined(yield* nonces.get("https://api.example.com/token"))
        assert.isTrue(yield* nonces.update("https://as.example.com/token", "n2"))
        assert.strictEqual(yield* nonces.get("https://as.example.com/token"), "n2")
        assert.isFalse(yield* nonces.update("https://as.example.com/token", undefined))
        assert.strictEqual(yield* nonces.get("https://as.example.com/token"), "n2")
      }))

    it("ignore what is not a nonce, and keep the most recently used origins", () => {
      const store = new NonceStore(2)
      for (const bad of ["", " ", "has space", "quote\"d", "x".repeat(2000), "back\\slash"]) {
        assert.isFalse(store.update("https://a.example/", bad), JSON.stringify(bad))
      }
      assert.isFalse(store.update("not a url", "n"))
      assert.strictEqual(store.size, 0)
      store.update("https://a.example/", "a")
      store.update("https://b.example/", "b")
      store.update("https://a.example/", "a2")
      store.update("https://c.example/", "c")
      assert.strictEqual(store.get("https://a.example/"), "a2")
      assert.isUndefined(store.get("https://b.example/"))
      assert.strictEqual(store.get("https://c.example/"), "c")
    })

    it("are asked for by a 401 with use_dpop_nonce, under DPoP or Bearer", () => {
      const challenge = (status: number, header?: string) =>
        DPoP.isNonceChallenge({ status, headers: header === undefined ? {} : { "www-authenticate": header } })
      assert.isTrue(
        challenge(401, "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce\"")
      )
      assert.isTrue(challenge(401, "DPoP algs=\"ES256\", error=\"use_dpop_nonce\""))
      assert.isTrue(challenge(401, "Bearer error=\"use_dpop_nonce\""))
      assert.isFalse(challenge(401, "DPoP error=\"invalid_token\", error_description=\"use_dpop_nonce\""))
      assert.isFalse(challenge(401, "DPoP error=\"invalid_dpop_proof\""))
      assert.isFalse(challenge(401))
      assert.isFalse(challenge(400, "DPoP error=\"use_dpop_nonce\""))
    })
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
})
