// @ts-nocheck
import {
  ClientAuthentication,
  ClientCredentialsClient,
  JwtBearerGrant,
  MutualTls,
  TokenService
} from "@access-token/core"
import { TestCertificates } from "@access-token/testing"
import { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Inspectable, Layer, Option, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import * as Crypto from "node:crypto"
import * as Util from "node:util"
import { credentials, grantOf, type Identity } from "../src/internal/clientAuthentication.js"

const CLIENT = "worker"
const CLIENT_ID = "worker-id"
const ISSUER = "https://auth.example.com/tenant"
const TOKEN_ENDPOINT = "https://auth.example.com/tenant/oauth2/token"
const target = { tokenEndpoint: TOKEN_ENDPOINT, issuer: ISSUER }
const NOW = 1_767_225_600_000 // 2026-01-01T00:00:00Z

interface KeyKind {
  readonly name: string
  readonly algorithm: ClientAuthentication.SigningAlgorithm
  /** Generates a key pair with Node's crypto, as a user's PEM or JWK would come from elsewhere. */
  readonly generate: () => Crypto.KeyPairKeyObjectResult
}

const keyKinds: ReadonlyArray<KeyKind> = [
  { name: "RSA", algorithm: "RS256", generate: () => Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }) },
  { name: "EC P-256", algorithm: "ES256", generate: () => Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }) },
  { name: "EC P-384", algorithm: "ES384", generate: () => Crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }) },
  { name: "EC P-521", algorithm: "ES512", generate: () => Crypto.generateKeyPairSync("ec", { namedCurve: "P-521" }) },
  { name: "Ed25519", algorithm: "EdDSA", generate: () => Crypto.generateKeyPairSync("ed25519") }
]

const pemOf = (pair: Crypto.KeyPairKeyObjectResult): string =>
  pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string

const jwkOf = (pair: Crypto.KeyPairKeyObjectResult): Jose.JWK => pair.privateKey.export({ format: "jwk" }) as Jose.JWK

/** The base64 lines of a PEM: what a leak of the key would show. */
const keyMaterial = (pem: string): ReadonlyArray<string> =>
  pem.split("\n").filter((line) => line.length > 20 && !line.startsWith("-----"))

const identity = (authentication: ClientAuthentication.ClientAuthentication, secret?: string): Identity => ({
  name: CLIENT,
  clientId: CLIENT_ID,
  clientSecret: secret === undefined ? undefined : Redacted.make(secret),
  credentialStyle: "header",
  authentication
})

const formOf = (result: { readonly pairs: ReadonlyArray<readonly [string, string]> }) => new Map(result.pairs)

const assertionOf = (result: { readonly pairs: ReadonlyArray<readonly [string, string]> }): string => {
  const assertion = formOf(result).get("client_assertion")
  assert.isDefined(assertion)
  return assertion!
}

const verify = (jwt: string, key: Jose.CryptoKey | Jose.KeyObject | Uint8Array, audience = ISSUER) =>
  Effect.promise(() => Jose.jwtVerify(jwt, key, { audience, issuer: CLIENT_ID, currentDate: new Date(NOW) }))

const makeError = (input: ClientAuthentication.Input) => Effect.flip(ClientAuthentication.make(input, CLIENT))

describe("private_key_jwt", () => {
  for (const kind of keyKinds) {
    it.effect(`signs an assertion the public key verifies (${kind.name}, PKCS#8 PEM)`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const pair = kind.generate()
        const auth = yield* ClientAuthentication.make({
          method: "private_key_jwt",
          privateKey: Redacted.make(pemOf(pair)),
          keyId: "key-1"
        }, CLIENT)
        const result = yield* credentials(identity(auth), target)
        assert.deepStrictEqual(result.headers, {})
        const form = formOf(result)
        assert.strictEqual(form.get("client_id"), CLIENT_ID)
        assert.strictEqual(form.get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        const { payload, protectedHeader } = yield* verify(assertionOf(result), pair.publicKey)
        assert.deepStrictEqual(protectedHeader, { alg: kind.algorithm, kid: "key-1" })
        assert.strictEqual(payload.iss, CLIENT_ID)
        assert.strictEqual(payload.sub, CLIENT_ID)
        assert.strictEqual(payload.aud, ISSUER, "aud is the issuer, as one string")
        assert.strictEqual(payload.iat, NOW / 1000 - 5)
        assert.strictEqual(payload.nbf, NOW / 1000 - 5)
        assert.strictEqual(payload.exp, NOW / 1000 + 60)
        assert.match(payload.jti ?? "", /^[A-Za-z0-9_-]{22}$/)
      }))

    it.effect(`signs with a private JWK, its kid and alg kept (${kind.name})`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const pair = kind.generate()
        const jwk = { ...jwkOf(pair), kid: "from-the-jwk", alg: kind.algorithm }
        for (const privateKey of [Redacted.make(JSON.stringify(jwk)), Redacted.make(jwk as JsonWebKey)]) {
          const auth = yield* ClientAuthentication.make({ method: "private_key_jwt", privateKey }, CLIENT)
          const { protectedHeader } = yield* verify(
            assertionOf(yield* credentials(identity(auth), target)),
            pair.publicKey
          )
          assert.deepStrictEqual(protectedHeader, { alg: kind.algorithm, kid: "from-the-jwk" })
        }
      }))
  }

  it.effect("signs with PS256 when asked, with an RSA key (RSA-PSS)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const pair = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      const auth = yield* ClientAuthentication.make({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(pair)),
        algorithm: "PS256"
      }, CLIENT)
      const { protectedHeader } = yield* verify(assertionOf(yield* credentials(identity(auth), target)), pair.publicKey)
      assert.deepStrictEqual(protectedHeader, { alg: "PS256" })
    }))

  it.effect("signs with a CryptoKey, its algorithm from the key", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      for (const alg of ["ES256", "PS384", "EdDSA"]) {
        const { privateKey, publicKey } = yield* Effect.promise(() => Jose.generateKeyPair(alg))
        const auth = yield* ClientAuthentication.make({ method: "private_key_jwt", privateKey }, CLIENT)
        const { protectedHeader } = yield* verify(assertionOf(yield* credentials(identity(auth), target)), publicKey)
        assert.strictEqual(protectedHeader.alg, alg)
      }
    }))

  it.effect("signs a fresh assertion, with a new jti, on every call", () =>
    Effect.gen(function*() {
      const auth = yield* ClientAuthentication.make({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(keyKinds[1].generate()))
      }, CLIENT)
      const jtis = new Set<unknown>()
      for (let i = 0; i < 20; i++) {
        jtis.add(Jose.decodeJwt(assertionOf(yield* credentials(identity(auth), target))).jti)
      }
      assert.strictEqual(jtis.size, 20)
    }))

  it.effect("dates assertions by the Clock, with the configured lifetime and skew", () =>
    Effect.gen(function*() {
      const auth = yield* ClientAuthentication.make({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(keyKinds[1].generate())),
        lifetime: "2 minutes",
        clockSkew: 0
      }, CLIENT)
      yield* TestClock.setTime(NOW)
      const first = Jose.decodeJwt(assertionOf(yield* credentials(identity(auth), target)))
      yield* TestClock.adjust("90 seconds")
      const second = Jose.decodeJwt(assertionOf(yield* credentials(identity(auth), target)))
      assert.deepStrictEqual([first.iat, first.exp], [NOW / 1000, NOW / 1000 + 120])
      assert.deepStrictEqual([second.iat, second.exp], [NOW / 1000 + 90, NOW / 1000 + 210])
    }))

  it.effect("addresses the token endpoint when told to", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const pair = keyKinds[1].generate()
      const auth = yield* ClientAuthentication.make({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(pair)),
        audience: "tokenEndpoint"
      }, CLIENT)
      const { payload } = yield* verify(
        assertionOf(yield* credentials(identity(auth), { tokenEndpoint: TOKEN_ENDPOINT })),
        pair.publicKey,
        TOKEN_ENDPOINT
      )
      assert.strictEqual(payload.aud, TOKEN_ENDPOINT)
    }))

  it.effect("addresses an audience given as it is, without needing the issuer", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const pair = keyKinds[1].generate()
      const audience = "https://login.example.org"
      const auth = yield* ClientAuthentication.make(
        { method: "private_key_jwt", privateKey: Redacted.make(pemOf(pair)), audience },
        CLIENT
      )
      const signed = assertionOf(yield* credentials(identity(auth), { tokenEndpoint: TOKEN_ENDPOINT }))
      assert.strictEqual((yield* verify(signed, pair.publicKey, audience)).payload.aud, audience)
      // Any string a server names, not only a URL (DocuSign's JWT grant wants a host name).
      const { grant } = yield* JwtBearerGrant.make(
        { privateKey: Redacted.make(pemOf(pair)), audience: "account-d.docusign.com" },
        CLIENT,
        CLIENT_ID
      )
      const { pairs } = yield* grantOf({ name: CLIENT, clientId: CLIENT_ID, grant }, undefined, {
        tokenEndpoint: TOKEN_ENDPOINT
      })
      assert.strictEqual(Jose.decodeJwt(formOf({ pairs }).get("assertion")!).aud, "account-d.docusign.com")
      // The client needs no issuer for it.
      const client = yield* ClientCredentialsClient.make({
        tokenEndpoint: TOKEN_ENDPOINT,
        clientId: CLIENT_ID,
        authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(pair)), audience }
      }, CLIENT)
      assert.strictEqual((client.authentication as ClientAuthentication.PrivateKeyJwt).assertion.audience, audience)
    }))

  it.effect("refuses an audience that reads like a misspelt keyword, or is empty", () =>
    Effect.gen(function*() {
      const privateKey = Redacted.make(pemOf(keyKinds[1].generate()))
      for (const audience of ["token_endpoint", "token-endpoint", "TokenEndpoint", "Issuer", " issuer", ""]) {
        const error = yield* makeError({ method: "private_key_jwt", privateKey, audience })
        assert.strictEqual(error.field, "authentication.audience")
        assert.strictEqual(
          error.reason,
          audience === ""
            ? "must not be empty: give issuer, tokenEndpoint or the audience itself"
            : "reads like a misspelt issuer or tokenEndpoint: write the keyword exactly, or give the audience itself"
        )
      }
      const grant = yield* Effect.flip(
        JwtBearerGrant.make({ privateKey, audience: "token endpoint" }, CLIENT, CLIENT_ID)
      )
      assert.strictEqual(grant.field, "grant.audience")
    }))

  it.effect("without a known issuer, fails naming the audience rather than guessing one", () =>
    Effect.gen(function*() {
      const auth = yield* ClientAuthentication.make({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(keyKinds[1].generate()))
      }, CLIENT)
      const error = yield* Effect.flip(credentials(identity(auth), { tokenEndpoint: TOKEN_ENDPOINT }))
      assert.strictEqual(error._tag, "ClientConfigurationError")
      assert.strictEqual(error.field, "authentication.audience")
      assert.include(error.message, "issuer")
    }))

  it.effect("puts the certificate's SHA-256 thumbprint in x5t#S256", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { certificate, privateKey } = yield* TestCertificates.selfSigned("worker")
      const auth = yield* ClientAuthentication.make({
        method: "private_key_jwt",
        privateKey,
        certificate
      }, CLIENT)
      const publicKey = new Crypto.X509Certificate(certificate).publicKey
      const { protectedHeader } = yield* verify(assertionOf(yield* credentials(identity(auth), target)), publicKey)
      const expected = Crypto.createHash("sha256").update(new Crypto.X509Certificate(certificate).raw).digest(
        "base64url"
      )
      assert.deepStrictEqual(protectedHeader, { alg: "ES256", "x5t#S256": expected })

      // A certificate of another key is refused when the client is built.
      const error = yield* makeError({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(keyKinds[1].generate())),
        certificate
      })
      assert.strictEqual(error.field, "authentication.certificate")
      assert.include(error.message, "does not belong to the private key")
    }))
})

describe("x5t, the certificate's SHA-1 thumbprint (AD FS, older Microsoft Entra ID)", () => {
  /** What AD FS and Entra ID compare: the SHA-1 of the certificate's DER, base64url. */
  const sha1Thumbprint = (certificate: string) =>
    Buffer.from(new Crypto.X509Certificate(certificate).fingerprint.replaceAll(":", ""), "hex").toString("base64url")

  it.effect("goes in the header beside x5t#S256 when asked, for client authentication and for the grant", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { certificate, privateKey, thumbprint } = yield* TestCertificates.selfSigned("worker")
      const publicKey = new Crypto.X509Certificate(certificate).publicKey
      const expected = { alg: "ES256", "x5t#S256": thumbprint, x5t: sha1Thumbprint(certificate) }
      assert.match(expected.x5t, /^[A-Za-z0-9_-]{27}$/)
      const auth = yield* ClientAuthentication.make(
        { method: "private_key_jwt", privateKey, certificate, x5t: true },
        CLIENT
      )
      const { protectedHeader } = yield* verify(assertionOf(yield* credentials(identity(auth), target)), publicKey)
      assert.deepStrictEqual(protectedHeader, expected)
      const { grant } = yield* JwtBearerGrant.make({ privateKey, certificate, x5t: true }, CLIENT, CLIENT_ID)
      const { pairs } = yield* grantOf({ name: CLIENT, clientId: CLIENT_ID, grant }, undefined, target)
      const grantHeader = (yield* verify(formOf({ pairs }).get("assertion")!, publicKey)).protectedHeader
      assert.deepStrictEqual(grantHeader, expected)
    }))

  it.effect("is absent by default", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { certificate, privateKey } = yield* TestCertificates.selfSigned("worker")
      const auth = yield* ClientAuthentication.make({ method: "private_key_jwt", privateKey, certificate }, CLIENT)
      const header = Jose.decodeProtectedHeader(assertionOf(yield* credentials(identity(auth), target)))
      assert.deepStrictEqual(Object.keys(header).sort(), ["alg", "x5t#S256"])
    }))

  it.effect("needs the certificate", () =>
    Effect.gen(function*() {
      const error = yield* makeError({
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(keyKinds[1].generate())),
        x5t: true
      })
      assert.strictEqual(error.field, "authentication.x5t")
      assert.strictEqual(error.reason, "needs certificate: x5t is the certificate's SHA-1 thumbprint")
    }))

  it.effect("from the environment: CERTIFICATE_X5T=true, with a certificate kept on one line", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { certificate, privateKey } = yield* TestCertificates.selfSigned("worker")
      const oneLine = (pem: string) => pem.trim().split("\n").join("\\n")
      const input = yield* Effect.withConfigProvider(
        ClientCredentialsClient.config("IDP"),
        ConfigProvider.fromMap(
          new Map([
            ["IDP_TOKEN_ENDPOINT", TOKEN_ENDPOINT],
            ["IDP_CLIENT_ID", CLIENT_ID],
            ["IDP_ASSERTION_AUDIENCE", "token_endpoint"],
            ["IDP_PRIVATE_KEY", oneLine(Redacted.value(privateKey))],
            ["IDP_CERTIFICATE", oneLine(certificate)],
            ["IDP_CERTIFICATE_X5T", "true"]
          ]),
          { pathDelim: "_" }
        )
      )
      const client = yield* ClientCredentialsClient.make(input, CLIENT)
      const auth = client.authentication as ClientAuthentication.ClientAuthentication
      const header = Jose.decodeProtectedHeader(assertionOf(yield* credentials(identity(auth), target)))
      assert.strictEqual(header.x5t, sha1Thumbprint(certificate))
    }))
})

describe("keys that cannot be used", () => {
  const rsa = keyKinds[0].generate()
  const ec = keyKinds[1].generate()
  const cases: ReadonlyArray<readonly [string, ClientAuthentication.Input, field: string, reason: string]> = [
    [
      "garbage",
      { method: "private_key_jwt", privateKey: Redacted.make("not a key") },
      "authentication.privateKey",
      "is not a PKCS#8 PEM"
    ],
    [
      "a PKCS#1 PEM",
      {
        method: "private_key_jwt",
        privateKey: Redacted.make(rsa.privateKey.export({ type: "pkcs1", format: "pem" }) as string)
      },
      "authentication.privateKey",
      "convert it to PKCS#8"
    ],
    [
      "a PEM with a corrupt body",
      { method: "private_key_jwt", privateKey: Redacted.make(pemOf(ec).replace(/[A-Za-z]{8}/, "AAAAAAAA")) },
      "authentication.privateKey",
      "is not a PKCS#8 PEM"
    ],
    [
      "a public JWK",
      { method: "private_key_jwt", privateKey: Redacted.make(JSON.stringify(ec.publicKey.export({ format: "jwk" }))) },
      "authentication.privateKey",
      "is a public key"
    ],
    [
      "a symmetric JWK",
      { method: "private_key_jwt", privateKey: Redacted.make(JSON.stringify({ kty: "oct", k: "c2VjcmV0" })) },
      "authentication.privateKey",
      "use client_secret_jwt"
    ],
    [
      "JSON that is not a JWK",
      { method: "private_key_jwt", privateKey: Redacted.make("{ not json") },
      "authentication.privateKey",
      "not valid JSON"
    ],
    [
      "an algorithm that does not fit an RSA key",
      { method: "private_key_jwt", privateKey: Redacted.make(pemOf(rsa)), algorithm: "ES256" },
      "authentication.algorithm",
      "ES256 does not fit the key (an RSA key, which signs with RS256"
    ],
    [
      "an algorithm that does not fit an EC JWK",
      { method: "private_key_jwt", privateKey: Redacted.make(jwkOf(ec) as JsonWebKey), algorithm: "RS256" },
      "authentication.algorithm",
      "RS256 does not fit the key (an EC P-256 key"
    ],
    [
      "an RSA key too short to sign",
      {
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(Crypto.generateKeyPairSync("rsa", { modulusLength: 1024 })))
      },
      "authentication.privateKey",
      "at least 2048 bits"
    ],
    [
      "a plain string key",
      { method: "private_key_jwt", privateKey: pemOf(ec) as unknown as Redacted.Redacted<string> },
      "authentication.privateKey",
      "must be a Redacted PEM or JWK"
    ],
    [
      "a lifetime over an hour",
      {
        method: "private_key_jwt",
        privateKey: Redacted.make(pemOf(ec)),
        lifetime: "59 minutes",
        clockSkew: "2 minutes"
      },
      "authentication.lifetime",
      "must not exceed 1h"
    ],
    [
      "an unknown method",
      { method: "client_secret_jwt_please" } as unknown as ClientAuthentication.Input,
      "authentication.method",
      "must be one of"
    ]
  ]
  for (const [name, input, field, reason] of cases) {
    it.effect(`${name}: ClientConfigurationError naming the client and the field, never quoting the key`, () =>
      Effect.gen(function*() {
        const error = yield* makeError(input)
        assert.strictEqual(error._tag, "ClientConfigurationError")
        assert.strictEqual(error.client, CLIENT)
        assert.strictEqual(error.field, field)
        assert.include(error.message, reason)
        assert.include(error.message, `Client "${CLIENT}"`)
        const rendered = [error.message, Util.inspect(error), JSON.stringify(error), Inspectable.toStringUnknown(error)]
        for (const line of [...keyMaterial(pemOf(rsa)), ...keyMaterial(pemOf(ec)), jwkOf(ec).d!]) {
          for (const text of rendered) assert.notInclude(text, line)
        }
      }))
  }
})

describe("an algorithm that does not fit the key", () => {
  const rsa = keyKinds[0].generate()
  const ec = keyKinds[1].generate()
  const cases: ReadonlyArray<
    readonly [
      name: string,
      key: () => Effect.Effect<ClientAuthentication.PrivateKey>,
      algorithm: ClientAuthentication.SigningAlgorithm,
      reason: string
    ]
  > = [
    [
      "a PKCS#8 PEM",
      () => Effect.succeed(Redacted.make(pemOf(rsa))),
      "ES256",
      "ES256 does not fit the key (an RSA key, which signs with RS256, RS384, RS512, PS256, PS384, PS512)"
    ],
    [
      "a JWK",
      () => Effect.succeed(Redacted.make(jwkOf(ec) as JsonWebKey)),
      "RS256",
      "RS256 does not fit the key (an EC P-256 key, which signs with ES256)"
    ],
    [
      "a JWK with its own alg",
      () => Effect.succeed(Redacted.make({ ...jwkOf(ec), alg: "ES256" } as JsonWebKey)),
      "ES384",
      "is ES384 but the key is for ES256"
    ],
    [
      "a CryptoKey",
      () =>
        Effect.map(
          Effect.promise(() => Jose.generateKeyPair("PS384")),
          (pair) => pair.privateKey
        ),
      "RS256",
      "is RS256 but the CryptoKey was imported for PS384"
    ]
  ]
  for (const [name, key, algorithm, reason] of cases) {
    it.effect(`${name}: the field is the full path, for client authentication and for the grant`, () =>
      Effect.gen(function*() {
        const privateKey = yield* key()
        const authentication = yield* makeError({ method: "private_key_jwt", privateKey, algorithm })
        assert.strictEqual(authentication.field, "authentication.algorithm")
        assert.strictEqual(authentication.reason, reason)
        const grant = yield* Effect.flip(JwtBearerGrant.make({ privateKey, algorithm }, CLIENT, CLIENT_ID))
        assert.strictEqual(grant.field, "grant.algorithm")
        assert.strictEqual(grant.reason, reason)
      }))
  }
})

describe("keys as the environment holds them", () => {
  /** A PEM on one line with literal `\n`, as `.env` files and secret stores keep it. */
  const escaped = (pem: string, lineBreak = "\\n") => pem.trim().split("\n").join(lineBreak)

  for (const kind of [keyKinds[0], keyKinds[1], keyKinds[4]]) {
    it.effect(`a one-line PEM with literal \\n is read as the PEM it stands for (${kind.name})`, () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const pair = kind.generate()
        for (const privateKey of [escaped(pemOf(pair)), escaped(pemOf(pair), "\\r\\n")]) {
          assert.notInclude(privateKey, "\n")
          const auth = yield* ClientAuthentication.make({
            method: "private_key_jwt",
            privateKey: Redacted.make(privateKey)
          }, CLIENT)
          const { protectedHeader } = yield* verify(
            assertionOf(yield* credentials(identity(auth), target)),
            pair.publicKey
          )
          assert.strictEqual(protectedHeader.alg, kind.algorithm)
          const { grant } = yield* JwtBearerGrant.make({ privateKey: Redacted.make(privateKey) }, CLIENT, CLIENT_ID)
          assert.strictEqual(grant.signingKey.algorithm, kind.algorithm)
        }
      }))
  }

  it.effect("a one-line PEM in PRIVATE_KEY makes a client that signs", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const pair = keyKinds[1].generate()
      const input = yield* Effect.withConfigProvider(
        ClientCredentialsClient.config("IDP"),
        ConfigProvider.fromMap(
          new Map([
            ["IDP_TOKEN_ENDPOINT", TOKEN_ENDPOINT],
            ["IDP_CLIENT_ID", CLIENT_ID],
            ["IDP_ASSERTION_AUDIENCE", "token_endpoint"],
            ["IDP_PRIVATE_KEY", escaped(pemOf(pair))]
          ]),
          { pathDelim: "_" }
        )
      )
      const client = yield* ClientCredentialsClient.make(input, CLIENT)
      const auth = client.authentication as ClientAuthentication.ClientAuthentication
      yield* verify(assertionOf(yield* credentials(identity(auth), target)), pair.publicKey, TOKEN_ENDPOINT)
    }))

  it.effect("tls_client_auth: a certificate and key kept on one line are given to the transport as PEMs", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const input = yield* Effect.withConfigProvider(
        ClientAuthentication.config,
        ConfigProvider.fromMap(
          new Map([
            ["TOKEN_ENDPOINT_AUTH_METHOD", "tls_client_auth"],
            ["CERTIFICATE", escaped(worker.certificate)],
            ["PRIVATE_KEY", escaped(Redacted.value(worker.privateKey))]
          ])
        )
      )
      const auth = yield* ClientAuthentication.make(Option.getOrThrow(input), CLIENT)
      assert.instanceOf(auth, MutualTls.TlsClientAuth)
      const { certificate } = auth as MutualTls.TlsClientAuth
      assert.strictEqual(certificate.thumbprint, worker.thumbprint)
      assert.strictEqual(Redacted.value(certificate.certificate), worker.certificate.trim())
      assert.strictEqual(Redacted.value(certificate.privateKey), Redacted.value(worker.privateKey).trim())
    }))

  const rsa = keyKinds[0].generate()
  const ec = keyKinds[1].generate()
  const pss = Crypto.generateKeyPairSync("rsa-pss", { modulusLength: 2048 })
  const secp256k1 = Crypto.generateKeyPairSync("ec", { namedCurve: "secp256k1" })
  const spki = (pair: Crypto.KeyPairKeyObjectResult) => pair.publicKey.export({ type: "spki", format: "pem" }) as string
  const notSupported = "is not a PKCS#8 PEM or a private JWK of an RSA, EC (P-256, P-384, P-521) or Ed25519 key"
  const publicPem = "is a public key: give the private key instead (a PKCS#8 PEM, \"-----BEGIN PRIVATE KEY-----\", " +
    "or a private JWK); the server keeps the public key"
  const cases: ReadonlyArray<readonly [name: string, key: Effect.Effect<string>, reason: string]> = [
    ["a public key (SPKI PEM)", Effect.succeed(spki(ec)), publicPem],
    ["a public key on one line", Effect.succeed(escaped(spki(rsa))), publicPem],
    [
      "an RSA public key (PKCS#1 PEM)",
      Effect.succeed(rsa.publicKey.export({ type: "pkcs1", format: "pem" }) as string),
      publicPem
    ],
    [
      "a public JWK",
      Effect.succeed(JSON.stringify(ec.publicKey.export({ format: "jwk" }))),
      "is a public key: give the private JWK instead (with its \"d\" member); the server keeps the public key"
    ],
    [
      "a certificate",
      Effect.map(TestCertificates.selfSigned("worker"), ({ certificate }) => certificate),
      "is a certificate: give its private key instead (a PKCS#8 PEM, \"-----BEGIN PRIVATE KEY-----\"); " +
      "the certificate belongs in certificate"
    ],
    [
      "an RSASSA-PSS key",
      Effect.succeed(pemOf(pss)),
      "is an RSASSA-PSS key (id-RSASSA-PSS), which WebCrypto cannot import: use an RSA key (rsaEncryption) " +
      "with algorithm PS256 to sign with RSA-PSS"
    ],
    ["a key of another curve", Effect.succeed(pemOf(secp256k1)), notSupported],
    ["a PEM with a corrupt body", Effect.succeed(pemOf(ec).replace(/[A-Za-z]{8}/, "AAAAAAAA")), notSupported]
  ]
  for (const [name, key, reason] of cases) {
    it.effect(`${name}: says exactly what it is and what to give, never quoting it`, () =>
      Effect.gen(function*() {
        const text = yield* key
        const error = yield* makeError({ method: "private_key_jwt", privateKey: Redacted.make(text) })
        assert.strictEqual(error.field, "authentication.privateKey")
        assert.strictEqual(error.reason, reason)
        const pems = [pemOf(rsa), pemOf(ec), pemOf(pss), pemOf(secp256k1), spki(rsa), spki(ec)]
        for (const line of [...pems.flatMap(keyMaterial), ...keyMaterial(text.replaceAll("\\n", "\n"))]) {
          assert.notInclude(error.message, line)
        }
      }))
  }
})

describe("client_secret_jwt", () => {
  it.effect("signs an HMAC assertion with the client secret, which never travels", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const secret = "a-shared-secret-of-enough-length-for-hs256"
      for (const algorithm of ["HS256", "HS512"] as const) {
        const auth = yield* ClientAuthentication.make({ method: "client_secret_jwt", algorithm }, CLIENT)
        const result = yield* credentials(identity(auth, secret), target)
        const { payload, protectedHeader } = yield* verify(assertionOf(result), new TextEncoder().encode(secret))
        assert.deepStrictEqual(protectedHeader, { alg: algorithm })
        assert.strictEqual(payload.sub, CLIENT_ID)
        assert.notInclude(JSON.stringify(result), secret)
      }
    }))

  it.effect("needs the client secret", () =>
    Effect.gen(function*() {
      const auth = yield* ClientAuthentication.make({ method: "client_secret_jwt" }, CLIENT)
      const error = yield* Effect.flip(credentials(identity(auth), target))
      assert.strictEqual(error.field, "clientSecret")
    }))
})

describe("client secrets", () => {
  const secret = "p@ss:w+rd%/ x~"
  it.effect("keep the credential styles: header is client_secret_basic, body client_secret_post", () =>
    Effect.gen(function*() {
      const base = { name: CLIENT, clientId: CLIENT_ID, clientSecret: Redacted.make(secret) }
      const header = yield* credentials({ ...base, credentialStyle: "header" }, target)
      const body = yield* credentials({ ...base, credentialStyle: "body" }, target)
      const expected = `Basic ${Buffer.from("worker-id:p%40ss%3Aw%2Brd%25%2F+x%7E").toString("base64")}`
      assert.deepStrictEqual(header, { headers: { authorization: expected }, pairs: [] })
      assert.deepStrictEqual(body, { headers: {}, pairs: [["client_id", CLIENT_ID], ["client_secret", secret]] })
      const explicitBasic = yield* ClientAuthentication.make({ method: "client_secret_basic" }, CLIENT)
      const explicitPost = yield* ClientAuthentication.make({ method: "client_secret_post" }, CLIENT)
      assert.deepStrictEqual(
        yield* credentials({ ...base, credentialStyle: "body", authentication: explicitBasic }, target),
        header
      )
      assert.deepStrictEqual(
        yield* credentials({ ...base, credentialStyle: "header", authentication: explicitPost }, target),
        body
      )
    }))

  it.effect("a public client sends its id alone", () =>
    Effect.gen(function*() {
      const result = yield* credentials({ name: CLIENT, clientId: CLIENT_ID, credentialStyle: "header" }, target)
      assert.deepStrictEqual(result, { headers: {}, pairs: [["client_id", CLIENT_ID]] })
    }))
})

describe("a loaded key", () => {
  it.effect("renders without its material, whatever renders it", () =>
    Effect.gen(function*() {
      const pair = keyKinds[0].generate()
      const jwk = jwkOf(pair)
      for (const privateKey of [Redacted.make(pemOf(pair)), Redacted.make(JSON.stringify(jwk))]) {
        const auth = yield* ClientAuthentication.make({ method: "private_key_jwt", privateKey }, CLIENT)
        const renderings = [
          String(auth),
          Util.inspect(auth, { depth: 10, getters: true }),
          JSON.stringify(auth),
          Inspectable.toStringUnknown(auth)
        ]
        for (const text of renderings) {
          for (const secret of [...keyMaterial(pemOf(pair)), jwk.d!, jwk.p!, jwk.q!]) assert.notInclude(text, secret)
        }
        assert.isFalse((auth as ClientAuthentication.PrivateKeyJwt).signingKey.key.extractable)
      }
    }))
})

describe("config", () => {
  const read = (entries: Record<string, string>) =>
    Effect.withConfigProvider(ClientAuthentication.config, ConfigProvider.fromMap(new Map(Object.entries(entries))))

  it.effect("a private key alone means private_key_jwt", () =>
    Effect.gen(function*() {
      const pem = pemOf(keyKinds[1].generate())
      const input = yield* read({
        PRIVATE_KEY: pem,
        PRIVATE_KEY_ID: "k1",
        ASSERTION_AUDIENCE: "token_endpoint",
        ASSERTION_LIFETIME: "30 seconds"
      })
      assert.isTrue(Option.isSome(input))
      const value = Option.getOrThrow(input)
      assert.strictEqual(value.method, "private_key_jwt")
      if (value.method !== "private_key_jwt") return
      assert.isTrue(Redacted.isRedacted(value.privateKey))
      assert.strictEqual(value.keyId, "k1")
      assert.strictEqual(value.audience, "tokenEndpoint")
      const auth = yield* ClientAuthentication.make(value, CLIENT)
      assert.strictEqual(auth.method, "private_key_jwt")
    }))

  it.effect("ASSERTION_AUDIENCE: issuer, token_endpoint, or the audience itself", () =>
    Effect.gen(function*() {
      const pem = pemOf(keyKinds[1].generate())
      const audienceOf = (value: string) =>
        Effect.map(read({ PRIVATE_KEY: pem, ASSERTION_AUDIENCE: value }), (input) => {
          const value = Option.getOrThrow(input)
          return value.method === "private_key_jwt" ? value.audience : undefined
        })
      assert.strictEqual(yield* audienceOf("issuer"), "issuer")
      assert.strictEqual(yield* audienceOf("token_endpoint"), "tokenEndpoint")
      assert.strictEqual(yield* audienceOf("https://login.example.org"), "https://login.example.org")
      for (const misspelt of ["token-endpoint", "TOKEN_ENDPOINT", "Issuer"]) {
        const error = yield* Effect.flip(audienceOf(misspelt))
        assert.include(String(error), "ASSERTION_AUDIENCE")
        assert.include(
          String(error),
          "reads like a misspelt issuer or token_endpoint: write the keyword exactly, or give the audience itself"
        )
      }
    }))

  it.effect("no method and no key leaves the credential style in charge; bad combinations are refused", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* read({})))
      const jwt = yield* read({ TOKEN_ENDPOINT_AUTH_METHOD: "client_secret_jwt", SIGNING_ALGORITHM: "HS384" })
      assert.deepStrictEqual(Option.getOrThrow(jwt), {
        method: "client_secret_jwt",
        algorithm: "HS384",
        audience: undefined,
        lifetime: undefined
      })
      const missingKey = yield* Effect.either(read({ TOKEN_ENDPOINT_AUTH_METHOD: "private_key_jwt" }))
      assert.isTrue(Either.isLeft(missingKey))
      const wrongAlgorithm = yield* Effect.either(
        read({ TOKEN_ENDPOINT_AUTH_METHOD: "client_secret_jwt", SIGNING_ALGORITHM: "ES256" })
      )
      assert.isTrue(Either.isLeft(wrongAlgorithm))
    }))
})

describe("the JWT bearer grant", () => {
  const serviceAccountKey = (pair: Crypto.KeyPairKeyObjectResult) =>
    JSON.stringify({
      type: "service_account",
      project_id: "a-project",
      private_key_id: "0123abcd",
      private_key: pemOf(pair),
      client_email: "worker@a-project.iam.gserviceaccount.com",
      client_id: "1234567890",
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: "https://oauth2.googleapis.com/token"
    })

  it.effect("loads a service-account key file as it is, and signs what Google requires", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const pair = keyKinds[0].generate()
      const loaded = yield* JwtBearerGrant.make(
        { serviceAccountKey: Redacted.make(serviceAccountKey(pair)) },
        CLIENT,
        undefined
      )
      assert.strictEqual(loaded.clientId, "worker@a-project.iam.gserviceaccount.com")
      assert.strictEqual(loaded.tokenEndpoint, "https://oauth2.googleapis.com/token")
      const { pairs: form, scopeInForm } = yield* grantOf(
        { name: CLIENT, clientId: loaded.clientId!, grant: loaded.grant },
        "https://www.googleapis.com/auth/cloud-platform",
        { tokenEndpoint: loaded.tokenEndpoint! }
      )
      assert.isFalse(scopeInForm)
      assert.strictEqual(form[0][1], "urn:ietf:params:oauth:grant-type:jwt-bearer")
      assert.strictEqual(form[1][0], "assertion")
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        Jose.jwtVerify(form[1][1], pair.publicKey, { currentDate: new Date(NOW) })
      )
      assert.deepStrictEqual(protectedHeader, { alg: "RS256", kid: "0123abcd" })
      assert.strictEqual(payload.iss, "worker@a-project.iam.gserviceaccount.com")
      assert.strictEqual(payload.aud, "https://oauth2.googleapis.com/token")
      assert.strictEqual(payload.scope, "https://www.googleapis.com/auth/cloud-platform")
      assert.isUndefined(payload.sub)
      assert.isAtMost(payload.exp! - payload.iat!, 3600)
    }))

  it.effect("with a key of its own: sub is the client id and the scope stays a parameter by default", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const pair = keyKinds[1].generate()
      const { grant } = yield* JwtBearerGrant.make({ privateKey: Redacted.make(pemOf(pair)) }, CLIENT, CLIENT_ID)
      const { pairs: form, scopeInForm } = yield* grantOf({ name: CLIENT, clientId: CLIENT_ID, grant }, "api", target)
      assert.isTrue(scopeInForm)
      const { payload } = yield* verify(form[1][1], pair.publicKey)
      assert.strictEqual(payload.sub, CLIENT_ID)
      assert.isUndefined(payload.scope)
    }))

  it.effect("a key file that is not one fails without quoting it", () =>
    Effect.gen(function*() {
      const pair = keyKinds[0].generate()
      const broken = serviceAccountKey(pair).replace("client_email", "email")
      for (const text of ["not json", "[1]", broken]) {
        const error = yield* Effect.flip(
          JwtBearerGrant.make({ serviceAccountKey: Redacted.make(text) }, CLIENT, undefined)
        )
        assert.strictEqual(error.field, "grant.serviceAccountKey")
        for (const line of keyMaterial(pemOf(pair))) assert.notInclude(error.message, line)
      }
      const tooLong = yield* Effect.flip(
        JwtBearerGrant.make(
          { serviceAccountKey: Redacted.make(serviceAccountKey(pair)), lifetime: "2 hours" },
          CLIENT,
          undefined
        )
      )
      assert.strictEqual(tooLong.field, "grant.lifetime")
    }))
})

describe("a service-account key file Google would not accept", () => {
  const keyFile = (members: Record<string, unknown>) =>
    JSON.stringify({
      type: "service_account",
      private_key_id: "k1",
      private_key: pemOf(keyKinds[0].generate()),
      client_email: "sa@project.iam.gserviceaccount.com",
      token_uri: "https://oauth2.googleapis.com/token",
      ...members
    })
  const ec = keyKinds[1].generate()
  const ed25519 = keyKinds[4].generate()
  const cases: ReadonlyArray<readonly [name: string, file: string, reason: string]> = [
    [
      "a user's credentials",
      keyFile({ type: "authorized_user" }),
      "has type authorized_user (a user's credentials, from gcloud auth application-default login), " +
      "not service_account: give a service-account key file"
    ],
    [
      "a workload identity federation configuration",
      keyFile({ type: "external_account" }),
      "has type external_account (workload identity federation, which exchanges tokens rather than signing), " +
      "not service_account: give a service-account key file"
    ],
    [
      "another type",
      keyFile({ type: "something_else" }),
      "has type something_else, not service_account: give a service-account key file"
    ],
    [
      "a type that is not a plain name",
      keyFile({ type: "<service account>" }),
      "has a type other than service_account: give a service-account key file"
    ],
    [
      "an EC key",
      keyFile({ private_key: pemOf(ec) }),
      "holds an EC P-256 key, but Google signs service-account assertions with RS256 only: " +
      "give the key file as Google issued it"
    ],
    [
      "an Ed25519 key",
      keyFile({ private_key: pemOf(ed25519) }),
      "holds an Ed25519 key, but Google signs service-account assertions with RS256 only: " +
      "give the key file as Google issued it"
    ]
  ]
  for (const [name, file, reason] of cases) {
    it.effect(`${name}: refused when the client is built, naming the key file`, () =>
      Effect.gen(function*() {
        const grant = yield* Effect.flip(
          JwtBearerGrant.make({ serviceAccountKey: Redacted.make(file) }, CLIENT, undefined)
        )
        assert.strictEqual(grant._tag, "ClientConfigurationError")
        assert.strictEqual(grant.field, "grant.serviceAccountKey")
        assert.strictEqual(grant.reason, reason)
        const client = yield* Effect.flip(
          ClientCredentialsClient.make({ grant: { serviceAccountKey: Redacted.make(file) } }, "google")
        )
        assert.strictEqual(client.message, `Client "google" is misconfigured: grant.serviceAccountKey ${reason}`)
        for (const line of [...keyMaterial(pemOf(ec)), ...keyMaterial(pemOf(ed25519))]) {
          assert.notInclude(client.message, line)
        }
      }))
  }
})

describe("a client definition", () => {
  const ec = keyKinds[1].generate()
  const base = { tokenEndpoint: TOKEN_ENDPOINT, clientId: CLIENT_ID }

  it.effect("loads its authentication when it is made", () =>
    Effect.gen(function*() {
      const client = yield* ClientCredentialsClient.make({
        ...base,
        authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(ec)), audience: "tokenEndpoint" }
      }, CLIENT)
      assert.instanceOf(client.authentication, ClientAuthentication.PrivateKeyJwt)
      assert.strictEqual(client.authentication?.method, "private_key_jwt")
    }))

  it.effect("refuses a method without what it needs, or with what it has no use for", () =>
    Effect.gen(function*() {
      const misfits: ReadonlyArray<readonly [ClientCredentialsClient.Input, field: string, reason: string]> = [
        [
          { ...base, authentication: { method: "client_secret_jwt", audience: "tokenEndpoint" } },
          "clientSecret",
          "is required by client_secret_jwt"
        ],
        [
          { ...base, authentication: { method: "client_secret_post" } },
          "clientSecret",
          "is required by client_secret_post"
        ],
        [
          {
            ...base,
            clientSecret: Redacted.make("SECRET-sentinel-7"),
            authentication: {
              method: "private_key_jwt",
              privateKey: Redacted.make(pemOf(ec)),
              audience: "tokenEndpoint"
            }
          },
          "clientSecret",
          "is not used by private_key_jwt"
        ],
        [
          {
            ...base,
            clientSecret: Redacted.make("s"),
            credentialStyle: "body",
            authentication: { method: "client_secret_basic" }
          },
          "credentialStyle",
          "cannot be set together with authentication"
        ],
        [
          { ...base, authentication: { method: "private_key_jwt", privateKey: Redacted.make("garbage") } },
          "authentication.privateKey",
          "is not a PKCS#8 PEM"
        ],
        [
          { ...base, authentication: { method: "private_key_jwt", privateKey: Redacted.make(pemOf(ec)) } },
          "authentication.audience",
          "is the issuer, which this client does not know"
        ],
        [
          {
            ...base,
            clientSecret: Redacted.make("SECRET-sentinel-7"),
            authentication: { method: "client_secret_jwt" }
          },
          "authentication.audience",
          "configure the client by its issuer"
        ],
        [
          { ...base, grant: { privateKey: Redacted.make(pemOf(ec)) } },
          "grant.audience",
          "or set audience to tokenEndpoint"
        ]
      ]
      for (const [input, field, reason] of misfits) {
        const error = yield* Effect.flip(ClientCredentialsClient.make(input, CLIENT))
        assert.strictEqual(error.field, field)
        assert.include(error.message, reason)
        assert.notInclude(error.message, "SECRET-sentinel-7")
      }
    }))

  it.effect("with a service-account key file, takes its client id and token endpoint", () =>
    Effect.gen(function*() {
      const keyFile = JSON.stringify({
        type: "service_account",
        private_key_id: "k1",
        private_key: pemOf(keyKinds[0].generate()),
        client_email: "sa@project.iam.gserviceaccount.com",
        token_uri: "https://oauth2.googleapis.com/token"
      })
      const client = yield* ClientCredentialsClient.make(
        { grant: { serviceAccountKey: Redacted.make(keyFile) } },
        "google"
      )
      assert.strictEqual(client.clientId, "sa@project.iam.gserviceaccount.com")
      assert.strictEqual(client.tokenEndpoint, "https://oauth2.googleapis.com/token")
      assert.instanceOf(client.grant, JwtBearerGrant.JwtBearerGrant)
      assert.strictEqual(client.grant?.scopeIn, "claim")
      assert.isUndefined(client.grant?.subject)
      // Given fields win over the file's.
      const overridden = yield* ClientCredentialsClient.make({
        clientId: "other@project.iam.gserviceaccount.com",
        grant: { serviceAccountKey: Redacted.make(keyFile) }
      }, "google")
      assert.strictEqual(overridden.clientId, "other@project.iam.gserviceaccount.com")
    }))

  it.effect("an extra parameter may not set the grant's assertion", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ClientCredentialsClient.make({ ...base, parameters: { assertion: "x" } }, CLIENT)
      )
      assert.strictEqual(error._tag, "ClientConfigurationError")
    }))
})

describe("a client from the environment", () => {
  const env = (entries: Record<string, string>) =>
    ConfigProvider.fromMap(new Map(Object.entries(entries).map(([name, value]) => [`IDP_${name}`, value])), {
      pathDelim: "_"
    })
  const read = (entries: Record<string, string>) =>
    Effect.withConfigProvider(ClientCredentialsClient.config("IDP"), env(entries))
  const pem = pemOf(keyKinds[1].generate())

  it.effect("PRIVATE_KEY: private_key_jwt, loaded when the client is made", () =>
    Effect.gen(function*() {
      const input = yield* read({
        TOKEN_ENDPOINT,
        CLIENT_ID,
        PRIVATE_KEY: pem,
        PRIVATE_KEY_ID: "k1",
        ASSERTION_AUDIENCE: "token_endpoint"
      })
      assert.isUndefined(input.grant)
      const client = yield* ClientCredentialsClient.make(input, CLIENT)
      assert.instanceOf(client.authentication, ClientAuthentication.PrivateKeyJwt)
      const auth = client.authentication as ClientAuthentication.PrivateKeyJwt
      assert.strictEqual(auth.signingKey.keyId, "k1")
      assert.strictEqual(auth.assertion.audience, "tokenEndpoint")
    }))

  it.effect("SERVICE_ACCOUNT_KEY: the JWT bearer grant, with the file's client id and token endpoint", () =>
    Effect.gen(function*() {
      // Google's keys are RSA; a file without "type" is read as a service account, as Google's libraries do.
      const keyFile = JSON.stringify({
        private_key_id: "k2",
        private_key: pemOf(keyKinds[0].generate()),
        client_email: "sa@project.iam.gserviceaccount.com",
        token_uri: "https://oauth2.googleapis.com/token"
      })
      const input = yield* read({
        SERVICE_ACCOUNT_KEY: keyFile,
        SCOPE: "https://www.googleapis.com/auth/cloud-platform"
      })
      const client = yield* ClientCredentialsClient.make(input, "google")
      assert.strictEqual(client.clientId, "sa@project.iam.gserviceaccount.com")
      assert.strictEqual(client.tokenEndpoint, "https://oauth2.googleapis.com/token")
      assert.strictEqual(client.grant?.signingKey.keyId, "k2")
      assert.isUndefined(client.authentication)
    }))

  it.effect("GRANT_TYPE=jwt-bearer: PRIVATE_KEY signs the grant, a secret authenticates the client", () =>
    Effect.gen(function*() {
      const input = yield* read({
        TOKEN_ENDPOINT,
        CLIENT_ID,
        CLIENT_SECRET: "s3cr3t",
        GRANT_TYPE: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        PRIVATE_KEY: pem,
        ASSERTION_AUDIENCE: "token_endpoint"
      })
      const client = yield* ClientCredentialsClient.make(input, CLIENT)
      assert.instanceOf(client.grant, JwtBearerGrant.JwtBearerGrant)
      assert.strictEqual(client.grant?.subject, CLIENT_ID)
      assert.isUndefined(client.authentication)
      assert.strictEqual(client.credentialStyle, "header")
    }))

  it.effect("says what is missing or contradictory, never quoting a key", () =>
    Effect.gen(function*() {
      const noClient = yield* Effect.flip(
        Effect.flatMap(read({ TOKEN_ENDPOINT }), (input) => ClientCredentialsClient.make(input, "idp"))
      )
      assert.include(String(noClient), "IDP_CLIENT_ID is required")
      const noKey = yield* Effect.flip(read({
        TOKEN_ENDPOINT,
        CLIENT_ID,
        GRANT_TYPE: "urn:ietf:params:oauth:grant-type:jwt-bearer"
      }))
      assert.include(String(noKey), "PRIVATE_KEY")
      const twoKeys = yield* Effect.flip(read({ SERVICE_ACCOUNT_KEY: "{}", PRIVATE_KEY: pem }))
      assert.include(String(twoKeys), "PRIVATE_KEY")
      for (const error of [noClient, noKey, twoKeys]) {
        for (const line of keyMaterial(pem)) assert.notInclude(String(error), line)
      }
    }))
})

describe("a token service", () => {
  it.scoped("fails to build, naming the client, when a key cannot be used", () =>
    Effect.gen(function*() {
      const pem = pemOf(keyKinds[0].generate())
      const error = yield* Layer.build(
        TokenService.layerDefault({
          clients: {
            billing: {
              issuer: ISSUER,
              clientId: CLIENT_ID,
              authentication: { method: "private_key_jwt", privateKey: Redacted.make(pem), algorithm: "ES256" }
            }
          }
        }).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, HttpClient.make(() => Effect.never))))
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ClientConfigurationError")
      if (error._tag !== "ClientConfigurationError") return
      assert.strictEqual(error.client, "billing")
      assert.strictEqual(error.field, "authentication.algorithm")
      for (const line of keyMaterial(pem)) assert.notInclude(error.message, line)
    }))
})
