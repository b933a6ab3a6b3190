// @ts-nocheck
import { MutualTls } from "@access-token/core"
import { NodeMutualTls } from "@access-token/platform-node"
import { LoopbackServer, TestCertificates } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"

const clientCertificate = (certificate: TestCertificates.Certificate) =>
  MutualTls.clientCertificate({
    certificate: Redacted.make(certificate.certificate),
    privateKey: certificate.privateKey
  }, "worker")

describe("NodeMutualTls", () => {
  it.scoped("presents each client's certificate on its connections, and trusts the configured authorities", () =>
    Effect.gen(function*() {
      const authority = yield* TestCertificates.authority()
      const server = yield* LoopbackServer.make((_, response) => response.end("ok"), {
        tls: {
          ...(yield* TestCertificates.server(authority)),
          clientCertificates: { authorities: [authority.certificate] }
        }
      })
      const first = yield* TestCertificates.client(authority, "worker")
      const rotated = yield* TestCertificates.client(authority, "worker")
      const transport = yield* NodeMutualTls.make({ certificateAuthorities: [authority.certificate] })
      const firstCertificate = yield* clientCertificate(first)
      assert.strictEqual(firstCertificate.thumbprint, first.thumbprint, "the core computes the same x5t#S256")
      assert.strictEqual(transport.httpClient(firstCertificate), transport.httpClient(firstCertificate))
      for (const certificate of [firstCertificate, yield* clientCertificate(rotated)]) {
        const response = yield* transport.httpClient(certificate).get(`${server.origin}/`)
        assert.strictEqual(yield* response.text, "ok")
      }
      assert.deepStrictEqual(
        server.requests.map((
          request
        ) => [request.clientCertificate?.thumbprint, request.clientCertificate?.authorized]),
        [[first.thumbprint, true], [rotated.thumbprint, true]]
      )
    }))

  it.scoped("refuses a server whose certificate does not chain to the configured authorities", () =>
    Effect.gen(function*() {
      const authority = yield* TestCertificates.authority()
      const server = yield* LoopbackServer.make((_, response) => response.end("ok"), {
        tls: yield* TestCertificates.server(yield* TestCertificates.authority("Impostor CA"))
      })
      const transport = yield* NodeMutualTls.make({ certificateAuthorities: [authority.certificate] })
      const certificate = yield* clientCertificate(yield* TestCertificates.client(authority, "worker"))
      const error = yield* Effect.flip(transport.httpClient(certificate).get(`${server.origin}/`))
      assert.strictEqual(error._tag, "RequestError")
      assert.deepStrictEqual(server.requests, [])
    }))
})
