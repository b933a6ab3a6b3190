/**
 * The test servers over mutual TLS (RFC 8705), with certificates the tests make themselves.
 */
// @ts-nocheck

import { LoopbackServer, ProtectedApi, TestCertificates, TokenServer } from "@access-token/testing"
import Undici from "@effect/platform-node/Undici"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Jose from "jose"

/** Sends a request on a connection of its own, presenting `certificate` when given. */
const send = (
  url: string,
  options: {
    readonly authority: TestCertificates.Authority
    readonly certificate?: TestCertificates.Certificate | undefined
    readonly method?: "GET" | "POST"
    readonly form?: Record<string, string>
    readonly headers?: Record<string, string>
  }
) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      new Undici.Agent({
        connect: {
          ca: options.authority.certificate,
          ...(options.certificate === undefined ? {} : {
            cert: options.certificate.certificate,
            key: Redacted.value(options.certificate.privateKey)
          })
        }
      })
    ),
    (dispatcher) =>
      Effect.promise(async () => {
        const response = await Undici.request(url, {
          dispatcher,
          method: options.method ?? "GET",
          headers: {
            ...options.headers,
            ...(options.form === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" })
          },
          ...(options.form === undefined ? {} : { body: new URLSearchParams(options.form).toString() })
        })
        const text = await response.body.text()
        return { status: response.statusCode, body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown> }
      }),
    (dispatcher) => Effect.promise(() => dispatcher.destroy())
  )

const certificates = Effect.gen(function*() {
  const authority = yield* TestCertificates.authority()
  return {
    authority,
    server: yield* TestCertificates.server(authority),
    worker: yield* TestCertificates.client(authority, "worker"),
    otherWorker: yield* TestCertificates.client(authority, "worker"),
    stranger: yield* TestCertificates.client(yield* TestCertificates.authority("Other CA"), "worker"),
    selfSigned: yield* TestCertificates.selfSigned("self-signed-worker")
  }
})

describe("LoopbackServer over TLS", () => {
  it.scoped("sees the client certificate of each connection, trusted or not", () =>
    Effect.gen(function*() {
      const { authority, selfSigned, server: serverCertificate, stranger, worker } = yield* certificates
      const server = yield* LoopbackServer.make((_, response) => response.end("{}"), {
        tls: { ...serverCertificate, clientCertificates: { authorities: [authority.certificate] } }
      })
      assert.match(server.origin, /^https:\/\/127\.0\.0\.1:\d+$/)
      for (const certificate of [worker, selfSigned, stranger, undefined]) {
        yield* send(`${server.origin}/`, { authority, certificate })
      }
      assert.deepStrictEqual(
        server.requests.map((request) => request.clientCertificate?.thumbprint),
        [worker.thumbprint, selfSigned.thumbprint, stranger.thumbprint, undefined]
      )
      assert.deepStrictEqual(
        server.requests.map((request) => request.clientCertificate?.authorized),
        [true, false, false, undefined]
      )
    }))
})

describe("TokenServer and ProtectedApi over mutual TLS", () => {
  const servers = (options: { readonly aliases: boolean }) =>
    Effect.gen(function*() {
      const certs = yield* certificates
      const tls = { ...certs.server, clientCertificates: { authorities: [certs.authority.certificate] } }
      const tokenServer = yield* TokenServer.make({
        tls,
        mtlsEndpointAliases: options.aliases,
        clients: [
          { clientId: "pki", tokenEndpointAuthMethod: "tls_client_auth", certificate: certs.worker.certificate },
          {
            clientId: "self-signed",
            tokenEndpointAuthMethod: "self_signed_tls_client_auth",
            certificate: certs.selfSigned.certificate
          }
        ]
      })
      const api = yield* ProtectedApi.make({ tls, trustedAuthorities: [certs.authority.certificate] }).pipe(
        Effect.provideService(TokenServer.TokenServer, tokenServer)
      )
      return { ...certs, tokenServer, api }
    })

  const tokenRequest = (clientId: string) => ({ grant_type: "client_credentials", client_id: clientId, scope: "api" })

  it.scoped("both methods get tokens bound to their certificate, which the API accepts only with it", () =>
    Effect.gen(function*() {
      const { api, authority, otherWorker, selfSigned, tokenServer, worker } = yield* servers({ aliases: false })
      assert.match(tokenServer.issuer, /^https:/)
      for (const [clientId, certificate] of [["pki", worker], ["self-signed", selfSigned]] as const) {
        const issued = yield* send(tokenServer.tokenEndpoint, {
          authority,
          certificate,
          method: "POST",
          form: tokenRequest(clientId)
        })
        assert.strictEqual(issued.status, 200, JSON.stringify(issued.body))
        const token = String(issued.body.access_token)
        const claims = Jose.decodeJwt(token)
        assert.deepStrictEqual(claims.cnf, { "x5t#S256": certificate.thumbprint })
        const call = (presented: TestCertificates.Certificate | undefined) =>
          send(`${api.baseUrl}test`, {
            authority,
            certificate: presented,
            headers: { authorization: `Bearer ${token}` }
          })
        assert.strictEqual((yield* call(certificate)).status, 200)
        assert.strictEqual((yield* call(undefined)).status, 401)
        assert.strictEqual((yield* call(otherWorker)).status, 401)
      }
      const methods = (yield* tokenServer.tokenRequests).map((request) => request.clientAuthMethod)
      assert.deepStrictEqual(methods, ["tls_client_auth", "self_signed_tls_client_auth"])
    }))

  it.scoped("refuses a client without a certificate, with another CA's, or with an unregistered one", () =>
    Effect.gen(function*() {
      const { authority, otherWorker, stranger, tokenServer, worker } = yield* servers({ aliases: false })
      const refusals = [
        ["pki", undefined],
        ["pki", stranger],
        ["self-signed", worker],
        ["self-signed", otherWorker]
      ] as const
      for (const [clientId, certificate] of refusals) {
        const refused = yield* send(tokenServer.tokenEndpoint, {
          authority,
          certificate,
          method: "POST",
          form: tokenRequest(clientId)
        })
        assert.strictEqual(refused.status, 401)
        assert.strictEqual(refused.body.error, "invalid_client")
      }
    }))

  it.scoped("with endpoint aliases, asks for certificates only on the alias the metadata announces", () =>
    Effect.gen(function*() {
      const { authority, tokenServer, worker } = yield* servers({ aliases: true })
      const metadata = yield* send(`${tokenServer.issuer}/.well-known/oauth-authorization-server`, { authority })
      const aliases = metadata.body.mtls_endpoint_aliases as Record<string, string>
      assert.strictEqual(aliases.token_endpoint, tokenServer.mtlsTokenEndpoint)
      assert.notStrictEqual(aliases.token_endpoint, tokenServer.tokenEndpoint)
      const request = { authority, certificate: worker, method: "POST", form: tokenRequest("pki") } as const
      assert.strictEqual((yield* send(tokenServer.tokenEndpoint, request)).status, 401)
      assert.strictEqual((yield* send(aliases.token_endpoint, request)).status, 200)
    }))
})
