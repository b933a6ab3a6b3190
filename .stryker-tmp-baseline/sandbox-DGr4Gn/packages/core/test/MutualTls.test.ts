// @ts-nocheck
import {
  AccessToken,
  ClientAuthentication,
  ClientCredentialsClient,
  MutualTls,
  TokenCache,
  TokenEndpointClient,
  TokenService
} from "@access-token/core"
import { TestCertificates } from "@access-token/testing"
// After the test kit, which loads the Reflect metadata polyfill @peculiar/x509 needs.
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import * as X509 from "@peculiar/x509"
import { ConfigProvider, DateTime, Effect, Inspectable, Layer, Redacted } from "effect"
import * as crypto from "node:crypto"
import { credentials } from "../src/internal/clientAuthentication.js"
import { bindingParts } from "../src/internal/tokenRequest.js"

const inputOf = (certificate: TestCertificates.Certificate, chain: ReadonlyArray<string> = []) => ({
  certificate: Redacted.make([certificate.certificate, ...chain].join("\n")),
  privateKey: certificate.privateKey
})

/** The base64 body of a PEM, which must appear in no message, log or rendering. */
const keyMaterial = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "").slice(0, 40)

/**
 * A client certificate issued by `authority` for a key of a type WebCrypto does not sign with
 * everywhere (node:crypto makes the key; the authority signs with its own).
 */
const issuedWith = (authority: TestCertificates.Authority, keyType: "ed448" | "rsa-pss") =>
  Effect.promise(async () => {
    const keys = keyType === "ed448"
      ? crypto.generateKeyPairSync("ed448")
      : crypto.generateKeyPairSync("rsa-pss", { modulusLength: 2048 })
    const signingKey = await crypto.webcrypto.subtle.importKey(
      "pkcs8",
      crypto.createPrivateKey(Redacted.value(authority.privateKey)).export({ format: "der", type: "pkcs8" }),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"]
    )
    const certificate = await X509.X509CertificateGenerator.create({
      serialNumber: "01",
      subject: "CN=worker",
      issuer: new X509.X509Certificate(authority.certificate).subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      publicKey: keys.publicKey.export({ format: "der", type: "spki" }),
      signingKey: signingKey as CryptoKey
    }, crypto.webcrypto as Crypto)
    return {
      certificate: Redacted.make(certificate.toString("pem")),
      privateKey: Redacted.make(keys.privateKey.export({ format: "pem", type: "pkcs8" }).toString()),
      thumbprint: crypto.createHash("sha256").update(new Uint8Array(certificate.rawData)).digest("base64url")
    }
  })

const definition = (certificate: TestCertificates.Certificate, method: "tls_client_auth" = "tls_client_auth") =>
  ClientCredentialsClient.make({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "worker",
    authentication: { method, ...inputOf(certificate) }
  }, "worker")

describe("MutualTls.clientCertificate", () => {
  it.effect("takes the thumbprint of the client's own certificate, the first of its chain", () =>
    Effect.gen(function*() {
      const authority = yield* TestCertificates.authority()
      const worker = yield* TestCertificates.client(authority, "worker")
      const read = yield* MutualTls.clientCertificate(inputOf(worker, [authority.certificate]), "worker")
      const der = new crypto.X509Certificate(worker.certificate).raw
      assert.strictEqual(read.thumbprint, crypto.createHash("sha256").update(der).digest("base64url"))
      assert.strictEqual(read.thumbprint, worker.thumbprint)
    }))

  it.effect("refuses what is not a certificate and a key, naming the field and quoting neither", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const cases = [
        [
          { certificate: Redacted.make("not a certificate"), privateKey: worker.privateKey },
          "authentication.certificate"
        ],
        [{ certificate: worker.privateKey, privateKey: worker.privateKey }, "authentication.certificate"],
        [
          { certificate: Redacted.make(worker.certificate), privateKey: Redacted.make(worker.certificate) },
          "authentication.privateKey"
        ]
      ] as const
      for (const [input, field] of cases) {
        const error = yield* Effect.flip(MutualTls.clientCertificate(input, "worker"))
        assert.strictEqual(error._tag, "ClientConfigurationError")
        assert.strictEqual(error.field, field)
        assert.notInclude(error.message, keyMaterial(Redacted.value(worker.privateKey)))
        assert.notInclude(error.message, keyMaterial(worker.certificate))
      }
    }))

  it.effect("refuses a private key that is not the certificate's own, naming the field and quoting neither", () =>
    Effect.gen(function*() {
      for (const keyType of ["EC", "RSA"] as const) {
        const worker = yield* TestCertificates.selfSigned("worker", { keyType })
        const other = yield* TestCertificates.selfSigned("other", { keyType })
        const error = yield* Effect.flip(
          MutualTls.clientCertificate({ ...inputOf(worker), privateKey: other.privateKey }, "worker")
        )
        assert.strictEqual(error._tag, "ClientConfigurationError")
        assert.strictEqual(
          error.message,
          "Client \"worker\" is misconfigured: authentication.privateKey is not the private key of the certificate " +
            "(the first CERTIFICATE block of authentication.certificate): give the key the certificate was issued for"
        )
        assert.notInclude(error.message, keyMaterial(Redacted.value(other.privateKey)))
        assert.notInclude(error.message, keyMaterial(worker.certificate))
      }
      // A key of another type than the certificate's.
      const ec = yield* TestCertificates.selfSigned("worker")
      const rsa = yield* TestCertificates.selfSigned("worker", { keyType: "RSA" })
      const misfit = yield* Effect.flip(
        MutualTls.clientCertificate({ ...inputOf(ec), privateKey: rsa.privateKey }, "worker")
      )
      assert.strictEqual(misfit.field, "authentication.privateKey")
    }))

  it.effect("takes the certificate's own key as PKCS#8, PKCS#1 or SEC 1, and refuses another's in every form", () =>
    Effect.gen(function*() {
      const forms = [["EC", "sec1"], ["RSA", "pkcs1"]] as const
      for (const [keyType, legacy] of forms) {
        const worker = yield* TestCertificates.selfSigned("worker", { keyType })
        const other = yield* TestCertificates.selfSigned("other", { keyType })
        const as = (key: TestCertificates.Certificate, type: "pkcs8" | typeof legacy) =>
          Redacted.make(
            crypto.createPrivateKey(Redacted.value(key.privateKey)).export({ format: "pem", type }).toString()
          )
        for (const type of ["pkcs8", legacy] as const) {
          const read = yield* MutualTls.clientCertificate({ ...inputOf(worker), privateKey: as(worker, type) }, "w")
          assert.strictEqual(read.thumbprint, worker.thumbprint)
          const refused = yield* Effect.flip(
            MutualTls.clientCertificate({ ...inputOf(worker), privateKey: as(other, type) }, "w")
          )
          assert.strictEqual(refused.field, "authentication.privateKey", `${keyType} ${type}`)
        }
      }
    }))

  it.effect("takes a certificate whose key WebCrypto cannot read (Ed448, RSASSA-PSS), as the TLS stack does", () =>
    Effect.gen(function*() {
      const authority = yield* TestCertificates.authority()
      for (const keyType of ["ed448", "rsa-pss"] as const) {
        const worker = yield* issuedWith(authority, keyType)
        const read = yield* MutualTls.clientCertificate(worker, "worker")
        assert.strictEqual(read.thumbprint, worker.thumbprint, keyType)
      }
    }))

  it.effect("refuses an encrypted key, which no transport could use without its passphrase", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const encrypted = crypto.createPrivateKey(Redacted.value(worker.privateKey)).export({
        format: "pem",
        type: "pkcs8",
        cipher: "aes-256-cbc",
        passphrase: "passphrase"
      }).toString()
      const error = yield* Effect.flip(
        MutualTls.clientCertificate({ ...inputOf(worker), privateKey: Redacted.make(encrypted) }, "worker")
      )
      assert.strictEqual(error.field, "authentication.privateKey")
      assert.include(error.message, "is encrypted")
    }))

  it.effect("a client whose key is not its certificate's is refused when its token service is built", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const other = yield* TestCertificates.selfSigned("other")
      const built = yield* Effect.flip(Layer.build(
        TokenService.layer({
          clients: {
            worker: {
              tokenEndpoint: "https://auth.example.com/token",
              clientId: "worker",
              authentication: { method: "tls_client_auth", ...inputOf(worker), privateKey: other.privateKey }
            }
          }
        }).pipe(
          Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
          Layer.provide(FetchHttpClient.layer)
        )
      ))
      assert.strictEqual(built._tag, "ClientConfigurationError")
      assert.strictEqual(built._tag === "ClientConfigurationError" && built.field, "authentication.privateKey")
    }).pipe(Effect.scoped))

  it.effect("keeps the private key out of every rendering of the client", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const client = yield* definition(worker)
      const renderings = [
        String(client),
        JSON.stringify(client),
        Inspectable.format(client),
        Inspectable.format(client.authentication)
      ]
      for (const text of renderings) assert.notInclude(text, keyMaterial(Redacted.value(worker.privateKey)))
    }))
})

describe("tls_client_auth and self_signed_tls_client_auth", () => {
  it.effect("send the client id alone: the certificate proves who the client is", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      for (const method of ["tls_client_auth", "self_signed_tls_client_auth"] as const) {
        const authentication = yield* ClientAuthentication.make({ method, ...inputOf(worker) }, "worker")
        assert.strictEqual(authentication.method, method)
        assert.strictEqual(MutualTls.certificateOf({ authentication })?.thumbprint, worker.thumbprint)
        const sent = yield* credentials(
          { name: "worker", clientId: "worker", credentialStyle: "header", authentication },
          { tokenEndpoint: "https://auth.example.com/token" }
        )
        assert.deepStrictEqual(sent, { headers: {}, pairs: [["client_id", "worker"]] })
      }
    }))

  it.effect("bind the token's cache key to the certificate, so that a rotated certificate never shares a token", () =>
    Effect.gen(function*() {
      const authority = yield* TestCertificates.authority()
      const certificate = yield* TestCertificates.client(authority, "worker")
      const first = yield* definition(certificate)
      const again = yield* definition(certificate)
      const rotated = yield* definition(yield* TestCertificates.client(authority, "worker"))
      const parts = (client: ClientCredentialsClient.ClientCredentialsClient) =>
        JSON.stringify(bindingParts(client, "api", [], {}))
      assert.strictEqual(parts(first), parts(again), "replicas with the same certificate share the token")
      assert.notStrictEqual(parts(first), parts(rotated))
      assert.include(parts(first), certificate.thumbprint)
    }))

  it.effect("are read from the environment, and refused without a certificate or a key", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const read = (entries: Record<string, string>) =>
        Effect.withConfigProvider(
          ClientAuthentication.config,
          ConfigProvider.fromMap(new Map(Object.entries(entries)))
        )
      const input = yield* read({
        TOKEN_ENDPOINT_AUTH_METHOD: "self_signed_tls_client_auth",
        CERTIFICATE: worker.certificate,
        PRIVATE_KEY: Redacted.value(worker.privateKey)
      })
      assert.isTrue(input._tag === "Some" && input.value.method === "self_signed_tls_client_auth")
      const withoutCertificate = yield* Effect.flip(
        read({ TOKEN_ENDPOINT_AUTH_METHOD: "tls_client_auth", PRIVATE_KEY: Redacted.value(worker.privateKey) })
      )
      assert.include(String(withoutCertificate), "CERTIFICATE")
      const withoutKey = yield* Effect.flip(
        read({ TOKEN_ENDPOINT_AUTH_METHOD: "tls_client_auth", CERTIFICATE: worker.certificate })
      )
      assert.include(String(withoutKey), "PRIVATE_KEY")
    }))
})

describe("a certificate client's tokens", () => {
  const jwt = (payload: object) =>
    ["{\"alg\":\"none\"}", JSON.stringify(payload), ""].map((part) => Buffer.from(part).toString("base64url")).join(".")

  /** The binding of the token the service hands out when the token endpoint answers `value`. */
  const bindingFor = (certificate: TestCertificates.Certificate, value: string) =>
    Effect.gen(function*() {
      const tokens = yield* TokenService.make({
        clients: {
          worker: {
            tokenEndpoint: "https://auth.example.com/token",
            clientId: "worker",
            authentication: { method: "tls_client_auth", ...inputOf(certificate) }
          }
        }
      }).pipe(
        Effect.provide([
          TokenEndpointClient.layerTest(() =>
            Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value, receivedAt, expiresIn: "1 hour" }))
          ),
          TokenCache.layerMemory()
        ])
      )
      return AccessToken.bindingOf(yield* tokens.getToken("worker"))
    })

  it.scoped("are bound to its certificate, unless a JWT access token says it is bound to none", () =>
    Effect.gen(function*() {
      const authority = yield* TestCertificates.authority()
      const worker = yield* TestCertificates.client(authority, "worker")
      const bound = yield* bindingFor(worker, jwt({ cnf: { "x5t#S256": worker.thumbprint } }))
      assert.strictEqual(bound?.certificate?.thumbprint, worker.thumbprint)
      assert.isUndefined(bound?.key)
      // An opaque token may be bound: it is taken to be.
      assert.strictEqual((yield* bindingFor(worker, "opaque-token"))?.certificate?.thumbprint, worker.thumbprint)
      // A JWT without cnf.x5t#S256 was issued unbound: it may go over any transport.
      assert.isUndefined(yield* bindingFor(worker, jwt({ sub: "worker", scope: "api" })))
    }))
})
