import { AccessToken, ClientCredentialsClient, DPoP, TokenError } from "@access-token/core"
import { Headers, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Either, Exit, FiberRef, Redacted, Schema, TestClock } from "effect"
import * as Jose from "jose"
import * as Crypto from "node:crypto"
import { NonceStore } from "../src/internal/dpopNonce.js"
import { type Algorithm, generate, type KeyImpl, tokenAttempt, withProof } from "../src/internal/dpopProof.js"

const NOW = 1_750_000_000_000

/** Verifies a proof as a DPoP server does: signature by the embedded key, type, algorithm. */
const verify = (proof: string) => Effect.promise(() => Jose.jwtVerify(proof, Jose.EmbeddedJWK, { typ: "dpop+jwt" }))

const sha256 = (text: string) => Crypto.createHash("sha256").update(text).digest("base64url")

/** The reason `material` is refused for, or the key it makes. */
const imported = (material: string, algorithm?: DPoP.Algorithm) =>
  DPoP.importKey(Redacted.make(material), { algorithm }).pipe(
    Effect.map((key) => key.algorithm as string),
    Effect.catchTag("DPoPKeyError", (error) => Effect.succeed(error.message))
  )

const privateJwk = (alg: string, options?: Jose.GenerateKeyPairOptions) =>
  Effect.promise(async () =>
    Jose.exportJWK((await Jose.generateKeyPair(alg, { extractable: true, ...options })).privateKey)
  )

const privatePem = (alg: string, options?: Jose.GenerateKeyPairOptions) =>
  Effect.promise(async () =>
    Jose.exportPKCS8((await Jose.generateKeyPair(alg, { extractable: true, ...options })).privateKey)
  )

describe("dpopProof", () => {
  describe("algorithms", () => {
    it("are the JWS algorithms RFC 9449 servers verify, each accepted by name", () => {
      const names = [
        "ES256",
        "ES384",
        "ES512",
        "PS256",
        "PS384",
        "PS512",
        "RS256",
        "RS384",
        "RS512",
        "Ed25519",
        "EdDSA"
      ]
      for (const name of names) assert.strictEqual(Schema.decodeUnknownSync(DPoP.Algorithm)(name), name)
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(DPoP.Algorithm)("HS256")))
    })
  })

  describe("keys", () => {
    it.effect("take their algorithm from the JWK's alg, else from its curve or type", () =>
      Effect.gen(function*() {
        const es512 = yield* privateJwk("ES512")
        assert.strictEqual(yield* imported(JSON.stringify(es512)), "ES512")
        const rsa = yield* privateJwk("PS256")
        assert.strictEqual(yield* imported(JSON.stringify(rsa)), "PS256")
        for (const alg of ["RS256", "RS384", "RS512", "PS384", "PS512"]) {
          assert.strictEqual(yield* imported(JSON.stringify({ ...rsa, alg, use: "sig", key_ops: ["sign"] })), alg)
        }
        // An alg that is no DPoP algorithm is not taken: the curve decides.
        assert.strictEqual(yield* imported(JSON.stringify({ ...es512, alg: "HS256" })), "ES512")
        // An explicit algorithm wins over the JWK's own.
        assert.strictEqual(yield* imported(JSON.stringify({ ...rsa, alg: "RS256" }), "PS512"), "PS512")
        // Material as read from a file or an environment variable, with blank lines around it.
        assert.strictEqual(yield* imported(`\n  ${JSON.stringify(es512)}\n`), "ES512")
        assert.strictEqual(yield* imported(`\n${yield* privatePem("ES384")}\n\n`), "ES384")
      }))

    it.effect("come from a PKCS#8 PEM of every supported type without an algorithm", () =>
      Effect.gen(function*() {
        for (const alg of ["ES256", "ES384", "ES512", "Ed25519"]) {
          const key = yield* DPoP.importKey(Redacted.make(yield* privatePem(alg)))
          assert.strictEqual(key.algorithm, alg)
          const proof = yield* DPoP.proof(key, { method: "GET", url: "https://a.example/" })
          assert.strictEqual((yield* verify(Redacted.value(proof))).protectedHeader.alg, alg)
        }
      }))

    it.effect("carry exactly the public members of their type in every proof's jwk", () =>
      Effect.gen(function*() {
        const members = (key: DPoP.Key) =>
          Effect.map(
            DPoP.proof(key, { method: "GET", url: "https://a.example/" }),
            (proof) => Object.keys(Jose.decodeProtectedHeader(Redacted.value(proof)).jwk!).sort()
          )
        const ed25519 = yield* privateJwk("Ed25519")
        assert.deepStrictEqual(yield* members(yield* DPoP.importKey(Redacted.make(JSON.stringify(ed25519)))), [
          "crv",
          "kty",
          "x"
        ])
        assert.deepStrictEqual(yield* members(yield* DPoP.generate("Ed25519")), ["crv", "kty", "x"])
        const es = yield* privateJwk("ES256")
        const withExtras = { ...es, kid: "k1", use: "sig", key_ops: ["sign"], ext: true, x5c: ["MIIB"] }
        assert.deepStrictEqual(yield* members(yield* DPoP.importKey(Redacted.make(JSON.stringify(withExtras)))), [
          "crv",
          "kty",
          "x",
          "y"
        ])
      }))

    it.effect("are refused, with the reason, when no DPoP algorithm can sign with them", () =>
      Effect.gen(function*() {
        const es = yield* privateJwk("ES256")
        assert.strictEqual(
          yield* imported(JSON.stringify({ ...es, kty: "foo" })),
          "The DPoP key has an unsupported key type (kty)"
        )
        const { kty: _kty, ...withoutType } = es
        assert.strictEqual(
          yield* imported(JSON.stringify(withoutType)),
          "The DPoP key has an unsupported key type (kty)"
        )
        assert.strictEqual(
          yield* imported(JSON.stringify({ ...es, crv: "secp256k1" })),
          "The DPoP key has a curve that no DPoP signing algorithm uses"
        )
        const x25519 = yield* Effect.promise(async () =>
          Jose.exportJWK((await Jose.generateKeyPair("ECDH-ES", { crv: "X25519", extractable: true })).privateKey)
        )
        assert.strictEqual(
          yield* imported(JSON.stringify(x25519)),
          "The DPoP key has a curve that no DPoP signing algorithm uses"
        )
        for (const notAnObject of ["null", "42", "\"key\""]) {
          assert.strictEqual(yield* imported(notAnObject), "The DPoP key is not a JSON Web Key object")
        }
        assert.strictEqual(
          yield* imported(yield* privatePem("ES256"), "RS256"),
          "The DPoP key is not a PKCS#8 private key usable with RS256"
        )
        for (const block of ["EC PRIVATE KEY", "PUBLIC KEY", "CERTIFICATE"]) {
          assert.strictEqual(
            yield* imported(`-----BEGIN ${block}-----\nAAAA\n-----END ${block}-----`),
            "The DPoP key is a PEM block other than PKCS#8 (-----BEGIN PRIVATE KEY-----)"
          )
        }
        assert.strictEqual(
          yield* imported("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
          "The DPoP key is not a PKCS#8 private key of a supported type (EC P-256/P-384/P-521, Ed25519, RSA)"
        )
        // An RSA key too short to sign with (RFC 7518 §3.3 wants 2048 bits) imports, and fails its probe.
        const short = Crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "jwk" })
        assert.strictEqual(yield* imported(JSON.stringify(short)), "The DPoP key cannot sign with PS256")
      }))

    it.effect("are refused for an algorithm the runtime cannot generate, with the reason", () =>
      Effect.gen(function*() {
        const result = yield* generate("HS256" as Algorithm)
        assert.deepStrictEqual(result, Either.left("cannot be generated for HS256 on this runtime"))
      }))

    it.effect("render as their algorithm and thumbprint, and carry the key type id", () =>
      Effect.gen(function*() {
        const key = yield* DPoP.generate()
        const json = { _id: "DPoP.Key", algorithm: "ES256", thumbprint: key.thumbprint }
        assert.deepStrictEqual(JSON.parse(JSON.stringify(key)), json)
        assert.strictEqual(String(key), JSON.stringify(json, null, 2))
        assert.strictEqual(key[DPoP.KeyTypeId], DPoP.KeyTypeId)
      }))
  })

  describe("withProof", () => {
    it.effect("adds a proof of the request's method and target URI, the time, its origin's nonce and ath", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW + 999)
        const key = (yield* DPoP.generate()) as KeyImpl
        const nonces = new NonceStore(10)
        nonces.update("https://api.example.com/other", "n-api")
        nonces.update("https://as.example.com/token", "n-as")
        const token = Redacted.make("access-token-1")
        const request = HttpClientRequest.get("https://API.example.com/v1/items?page=2#top")
        const sent = yield* withProof(request, key, nonces, token)
        const { payload, protectedHeader } = yield* verify(sent.headers.dpop!)
        assert.strictEqual(protectedHeader.jwk!.x, key.publicJwk.x)
        assert.strictEqual(payload.htm, "GET")
        assert.strictEqual(payload.htu, "https://api.example.com/v1/items")
        assert.strictEqual(payload.iat, NOW / 1000)
        assert.strictEqual(payload.nonce, "n-api")
        assert.strictEqual(payload.ath, sha256("access-token-1"))
        assert.isString(payload.jti)

        const tokenRequest = yield* withProof(
          HttpClientRequest.post("https://as.example.com/token"),
          key,
          nonces,
          undefined
        )
        const second = (yield* verify(tokenRequest.headers.dpop!)).payload
        assert.deepStrictEqual([second.htm, second.htu, second.nonce], ["POST", "https://as.example.com/token", "n-as"])
        assert.notProperty(second, "ath")
        assert.notStrictEqual(second.jti, payload.jti)
        const fresh = yield* verify((yield* withProof(request, key, new NonceStore(10), undefined)).headers.dpop!)
        assert.notProperty(fresh.payload, "nonce")
      }))
  })

  describe("tokenAttempt", () => {
    const tokenEndpoint = "https://as.example.com/token"
    const refusal = (error: string) => new TokenError.TokenRefusedError({ client: "c", status: 400, error })
    const token = AccessToken.make({ value: "tok-1", type: "DPoP", receivedAt: DateTime.unsafeMake(0) })

    /** Sends each request to `answer`, keeping its proof and whether the header names redacted `dpop`. */
    const attempt = (
      dpop: boolean,
      answer: (
        attempt: number,
        nonces: NonceStore
      ) => Effect.Effect<AccessToken.AccessToken, TokenError.TokenEndpointError>
    ) =>
      Effect.gen(function*() {
        const client = yield* ClientCredentialsClient.make({
          tokenEndpoint,
          clientId: "c",
          clientSecret: Redacted.make("s"),
          dpop
        })
        const nonces = new NonceStore(10)
        const proofs: Array<string | undefined> = []
        const redacted: Array<boolean> = []
        let encoded = 0
        const encode = Effect.sync(() => {
          encoded++
          return HttpClientRequest.post(tokenEndpoint)
        })
        const exit = yield* Effect.exit(tokenAttempt(client, tokenEndpoint, nonces, encode, (request) =>
          Effect.gen(function*() {
            proofs.push(request.headers.dpop)
            redacted.push((yield* FiberRef.get(Headers.currentRedactedNames)).includes("dpop"))
            return yield* answer(proofs.length, nonces)
          })))
        return { exit, proofs, redacted, encoded }
      })

    it.effect("sends no proof for a client without DPoP", () =>
      Effect.gen(function*() {
        const { exit, proofs } = yield* attempt(false, () => Effect.succeed(token))
        assert.deepStrictEqual(exit, Exit.succeed(token))
        assert.deepStrictEqual(proofs, [undefined])
      }))

    it.effect("tries once more, newly encoded with a new proof, when refused with use_dpop_nonce and given a nonce", () =>
      Effect.gen(function*() {
        const { encoded, exit, proofs, redacted } = yield* attempt(true, (n, nonces) => {
          if (n > 1) return Effect.succeed(token)
          nonces.update(tokenEndpoint, "n-1")
          return Effect.fail(refusal("use_dpop_nonce"))
        })
        assert.deepStrictEqual(exit, Exit.succeed(token))
        assert.strictEqual(encoded, 2)
        assert.deepStrictEqual(proofs.map((proof) => Jose.decodeJwt(proof!).nonce), [undefined, "n-1"])
        // Where the platform shows request headers, the proofs are masked.
        assert.deepStrictEqual(redacted, [true, true])
      }))

    it.effect("does not try again when refused for another reason, or with use_dpop_nonce but no nonce", () =>
      Effect.gen(function*() {
        const other = yield* attempt(true, (_, nonces) => {
          nonces.update(tokenEndpoint, "n-1")
          return Effect.fail(refusal("invalid_client"))
        })
        assert.deepStrictEqual(other.exit, Exit.fail(refusal("invalid_client")))
        assert.strictEqual(other.proofs.length, 1)
        const noNonce = yield* attempt(true, () => Effect.fail(refusal("use_dpop_nonce")))
        assert.deepStrictEqual(noNonce.exit, Exit.fail(refusal("use_dpop_nonce")))
        assert.strictEqual(noNonce.proofs.length, 1)
        const transport = new TokenError.TokenTransportError({
          client: "c",
          reason: "Reset",
          endpoint: tokenEndpoint,
          description: "use_dpop_nonce"
        })
        const failed = yield* attempt(true, (_, nonces) => {
          nonces.update(tokenEndpoint, "n-1")
          return Effect.fail(transport)
        })
        assert.strictEqual(failed.proofs.length, 1)
        // Two refusals in a row: the second is the answer.
        const twice = yield* attempt(true, (n, nonces) => {
          nonces.update(tokenEndpoint, `n-${n}`)
          return Effect.fail(refusal("use_dpop_nonce"))
        })
        assert.strictEqual(twice.proofs.length, 2)
      }))
  })
})
