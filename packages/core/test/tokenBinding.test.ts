import { AccessToken, ClientCredentialsClient, DPoP } from "@access-token/core"
import { TestCertificates } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Redacted } from "effect"
import { bind } from "../src/internal/tokenBinding.js"

const jwt = (payload: object) =>
  ["{\"alg\":\"none\"}", JSON.stringify(payload), ""].map((part) => Buffer.from(part).toString("base64url")).join(".")

const token = (value: string, type: string) =>
  AccessToken.make({ value, type, receivedAt: DateTime.unsafeMake(0), expiresIn: "1 hour", scope: "api" })

const certificateClient = (certificate: TestCertificates.Certificate, dpop?: DPoP.Key) =>
  ClientCredentialsClient.make({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "worker",
    authentication: {
      method: "tls_client_auth",
      certificate: Redacted.make(certificate.certificate),
      privateKey: certificate.privateKey
    },
    ...(dpop === undefined ? {} : { dpop: { key: dpop, allowBearer: true } })
  }, "worker")

describe("tokenBinding", () => {
  describe("bind", () => {
    it.effect("binds a DPoP token to the client's key, on a copy equal to the token, leaving the token unbound", () =>
      Effect.gen(function*() {
        const key = yield* DPoP.generate()
        const client = yield* ClientCredentialsClient.make({
          tokenEndpoint: "https://auth.example.com/token",
          clientId: "worker",
          clientSecret: Redacted.make("secret"),
          dpop: { key, allowBearer: true }
        })
        const original = token("opaque-token", "DPoP")
        const bound = bind(original, client)
        assert.notStrictEqual(bound, original)
        assert.instanceOf(bound, AccessToken.AccessToken)
        assert.deepStrictEqual(AccessToken.bindingOf(bound), { key, certificate: undefined })
        assert.isUndefined(AccessToken.bindingOf(original))
        assert.strictEqual(Redacted.value(bound.value), "opaque-token")
        assert.strictEqual(bound.type, "DPoP")
        assert.strictEqual(bound.scope, "api")
        assert.isTrue(DateTime.Equivalence(bound.receivedAt, original.receivedAt))
        // A Bearer answer the client allowed is bound to no key: it goes without a proof.
        const bearer = token("opaque-token", "Bearer")
        assert.strictEqual(bind(bearer, client), bearer)
        assert.isUndefined(AccessToken.bindingOf(bind(bearer, client)))
      }))

    it.effect("leaves a token of a client with neither key nor certificate as it is", () =>
      Effect.gen(function*() {
        const client = yield* ClientCredentialsClient.make({
          tokenEndpoint: "https://auth.example.com/token",
          clientId: "worker",
          clientSecret: Redacted.make("secret")
        })
        const dpop = token("opaque-token", "DPoP")
        assert.strictEqual(bind(dpop, client), dpop)
        assert.isUndefined(AccessToken.bindingOf(dpop))
      }))

    it.effect("binds a certificate client's token to its certificate unless it is a JWT that names none", () =>
      Effect.gen(function*() {
        const authority = yield* TestCertificates.authority()
        const worker = yield* TestCertificates.client(authority, "worker")
        const client = yield* certificateClient(worker)
        const certificateOfBinding = (value: string) =>
          AccessToken.bindingOf(bind(token(value, "Bearer"), client))?.certificate?.thumbprint
        // Bound: it names the certificate, or it cannot be read as a JWT (any doubt counts as bound).
        assert.strictEqual(certificateOfBinding(jwt({ cnf: { "x5t#S256": worker.thumbprint } })), worker.thumbprint)
        assert.strictEqual(certificateOfBinding("opaque-token"), worker.thumbprint)
        assert.strictEqual(certificateOfBinding("not.a.jwt"), worker.thumbprint)
        // Unbound: a JWT whose cnf is missing, not an object, null, or names no certificate.
        for (const payload of [{ sub: "worker" }, { cnf: "x5t" }, { cnf: null }, { cnf: { jkt: "thumbprint" } }]) {
          const unbound = token(jwt(payload), "Bearer")
          assert.strictEqual(bind(unbound, client), unbound, JSON.stringify(payload))
          assert.isUndefined(AccessToken.bindingOf(unbound), JSON.stringify(payload))
        }
      }))

    it.effect("binds a DPoP token of a certificate client to the key, and to the certificate only if it names it", () =>
      Effect.gen(function*() {
        const authority = yield* TestCertificates.authority()
        const worker = yield* TestCertificates.client(authority, "worker")
        const key = yield* DPoP.generate()
        const client = yield* certificateClient(worker, key)
        const both = AccessToken.bindingOf(bind(token(jwt({ cnf: { "x5t#S256": worker.thumbprint } }), "DPoP"), client))
        assert.strictEqual(both?.key, key)
        assert.strictEqual(both?.certificate?.thumbprint, worker.thumbprint)
        assert.deepStrictEqual(
          AccessToken.bindingOf(bind(token(jwt({ cnf: { jkt: key.thumbprint } }), "DPoP"), client)),
          { key, certificate: undefined }
        )
        const bearer = AccessToken.bindingOf(bind(token("opaque-token", "Bearer"), client))
        assert.isUndefined(bearer?.key)
        assert.strictEqual(bearer?.certificate?.thumbprint, worker.thumbprint)
      }))
  })
})
