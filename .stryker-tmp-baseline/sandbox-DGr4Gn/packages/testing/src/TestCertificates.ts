/**
 * X.509 certificates made by the tests themselves, for mutual TLS on loopback: a certificate
 * authority, a server certificate for `127.0.0.1`, client certificates issued by the authority, and
 * self-signed client certificates. ECDSA P-256 keys, generated at each call, so a fresh clone
 * needs nothing else.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as internal from "./internal/testCertificates.js"

/**
 * A certificate and its private key.
 *
 * @since 0.2.0
 * @category models
 */
export interface Certificate {
  /** The certificate, PEM. */
  readonly certificate: string
  /** The private key, PKCS#8 PEM. */
  readonly privateKey: Redacted.Redacted<string>
  /** The subject's distinguished name, such as `CN=worker`. */
  readonly subject: string
  /** The SHA-256 thumbprint of the certificate's DER, base64url: its `x5t#S256` (RFC 8705 §3.1). */
  readonly thumbprint: string
}

/**
 * A certificate authority that issues certificates.
 *
 * @since 0.2.0
 * @category models
 */
export interface Authority extends Certificate {
  readonly _tag: "Authority"
}

/**
 * How long a certificate made for a test is valid, and its key type.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** How long the certificate is valid from now (it is valid from a minute ago); default 1 day. */
  readonly lifetime?: Duration.DurationInput | undefined
  /** The certificate's key pair: EC P-256 (default) or RSA 2048; an issuer signs with its own. */
  readonly keyType?: "EC" | "RSA" | undefined
}

/**
 * A certificate authority named `CN=<name>` (default `Test CA`).
 *
 * @example
 * ```ts
 * import { TestCertificates } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const ca = yield* TestCertificates.authority()
 *   const server = yield* TestCertificates.server(ca)
 *   const client = yield* TestCertificates.client(ca, "worker")
 *   // What a certificate-bound token carries in cnf: the base64url SHA-256 of the DER.
 *   assert.match(client.thumbprint, /^[\w-]{43}$/)
 *   assert.ok(server.certificate.startsWith("-----BEGIN CERTIFICATE-----"))
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const authority: (name?: string, options?: Options) => Effect.Effect<Authority> = internal.authority

/**
 * A server certificate for `127.0.0.1` (and `localhost`), issued by `authority`.
 *
 * @example
 * ```ts
 * import { TestCertificates, TokenServer } from "@access-token/testing"
 * import { Effect, Layer } from "effect"
 *
 * // A token server over mutual TLS, its client registered with tls_client_auth.
 * const Servers = Layer.unwrapEffect(
 *   Effect.gen(function*() {
 *     const ca = yield* TestCertificates.authority()
 *     const server = yield* TestCertificates.server(ca)
 *     const client = yield* TestCertificates.client(ca, "worker")
 *     return TokenServer.layer({
 *       tls: { certificate: server.certificate, privateKey: server.privateKey, clientCertificates: { authorities: [ca.certificate] } },
 *       clients: [{ clientId: "worker", tokenEndpointAuthMethod: "tls_client_auth", certificate: client.certificate }]
 *     })
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const server: (authority: Authority, options?: Options) => Effect.Effect<Certificate> = internal.server

/**
 * A client certificate for `CN=<commonName>`, issued by `authority` (for `tls_client_auth`).
 *
 * @example
 * ```ts
 * import { TestCertificates } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const client = Effect.flatMap(TestCertificates.authority(), (ca) => TestCertificates.client(ca, "worker"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const client: (authority: Authority, commonName: string, options?: Options) => Effect.Effect<Certificate> =
  internal.client

/**
 * A self-signed client certificate for `CN=<commonName>` (for `self_signed_tls_client_auth`).
 *
 * @example
 * ```ts
 * import { TestCertificates } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * // For self_signed_tls_client_auth: the server registers the certificate itself.
 * const certificate = TestCertificates.selfSigned("worker")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const selfSigned: (commonName: string, options?: Options) => Effect.Effect<Certificate> = internal.selfSigned
