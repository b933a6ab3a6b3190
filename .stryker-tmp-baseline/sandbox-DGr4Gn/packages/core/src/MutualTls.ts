/**
 * Mutual TLS (RFC 8705): a client that authenticates with its TLS client certificate
 * (`tls_client_auth`, `self_signed_tls_client_auth`), and gets tokens bound to it (`cnf.x5t#S256`).
 *
 * `@effect/platform`'s `HttpClient` has no per-request client certificate, so the certificate
 * reaches the wire through a {@link MutualTls} service: an `HttpClient` per certificate, which
 * presents it on every connection. The core has none of its own, as it runs on any runtime: on
 * Node.js, provide `NodeMutualTls.layer` from `@access-token/platform-node`.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { derOf, importTlsKey, keyMatch, pemBlock, thumbprintOf } from "./internal/certificate.js"
import * as presented from "./internal/presentedCertificate.js"
import { ClientConfigurationError } from "./TokenError.js"

/**
 * A client certificate as configured: the certificate chain and its private key, PEM, both kept
 * `Redacted` until they reach the TLS connection.
 *
 * @since 0.2.0
 * @category models
 */
export interface CertificateInput {
  /** The client's certificate, PEM, followed by any intermediate certificates of its chain. */
  readonly certificate: Redacted.Redacted<string>
  /** The certificate's private key, PEM (PKCS#8, or PKCS#1 / SEC 1). */
  readonly privateKey: Redacted.Redacted<string>
}

/**
 * A client certificate, read and checked, with its thumbprint.
 *
 * @since 0.2.0
 * @category models
 */
export class ClientCertificate extends Data.Class<{
  readonly certificate: Redacted.Redacted<string>
  readonly privateKey: Redacted.Redacted<string>
  /** The SHA-256 thumbprint of the client's certificate, base64url: the `x5t#S256` its tokens are bound to. */
  readonly thumbprint: string
}> {}

/**
 * `tls_client_auth` (RFC 8705 §2.1): a certificate issued by a certificate authority the server
 * trusts, registered by its subject. The form carries `client_id` only.
 *
 * @since 0.2.0
 * @category models
 */
export class TlsClientAuth extends Data.TaggedClass("TlsClientAuth")<{ readonly certificate: ClientCertificate }> {
  /**
   * @since 0.2.0
   */
  readonly method = "tls_client_auth" as const
}

/**
 * `self_signed_tls_client_auth` (RFC 8705 §2.2): a self-signed certificate the server has registered
 * (in the client's JWKS). The form carries `client_id` only.
 *
 * @since 0.2.0
 * @category models
 */
export class SelfSignedTlsClientAuth extends Data.TaggedClass("SelfSignedTlsClientAuth")<{
  readonly certificate: ClientCertificate
}> {
  /**
   * @since 0.2.0
   */
  readonly method = "self_signed_tls_client_auth" as const
}

/**
 * The transport of certificate-authenticated clients: for each client certificate, an
 * `HttpClient` that presents it on its TLS connections. The token endpoint client sends such a
 * client's token requests through it, and the `@access-token/platform` middleware its API calls,
 * so that a certificate-bound token travels with its certificate.
 *
 * @since 0.2.0
 * @category tags
 */
export class MutualTls extends Context.Tag("@access-token/core/MutualTls")<MutualTls, MutualTls.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace MutualTls {
  /**
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    /** An `HttpClient` presenting `certificate`; the same one for the same certificate. */
    readonly httpClient: (certificate: ClientCertificate) => HttpClient.HttpClient
  }
}

/**
 * Reads a client certificate: the first `CERTIFICATE` block of `certificate` is the client's, and
 * the first private key block of `privateKey` (PKCS#8, PKCS#1 or SEC 1) must be its own key,
 * unencrypted; checked here for the keys WebCrypto reads (RSA, EC P-256, P-384, P-521, Ed25519),
 * by the TLS stack at the first connection for others. The error names the client and the field,
 * and never quotes either.
 *
 * @example
 * ```ts
 * import { MutualTls } from "@access-token/core"
 * import { Effect, Either, Redacted } from "effect"
 *
 * // A key that is not one: a typed error naming the client and the field, quoting neither.
 * const read = MutualTls.clientCertificate(
 *   { certificate: Redacted.make("not a certificate"), privateKey: Redacted.make("not a key") },
 *   "api"
 * )
 * const result = Effect.runSync(Effect.either(read))
 * assert.ok(Either.isLeft(result) && !result.left.message.includes("not a key"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const clientCertificate = (
  input: CertificateInput,
  client: string,
  field = "authentication"
): Effect.Effect<ClientCertificate, ClientConfigurationError> =>
  Effect.gen(function*() {
    const invalid = (name: string, reason: string) =>
      new ClientConfigurationError({ client, field: `${field}.${name}`, reason })
    if (!Redacted.isRedacted(input.certificate)) {
      return yield* invalid("certificate", "must be Redacted (Config.redacted), like the private key")
    }
    if (!Redacted.isRedacted(input.privateKey)) return yield* invalid("privateKey", "must be Redacted")
    const blocks = [...Redacted.value(input.certificate).matchAll(pemBlock)]
    const first = blocks.find((block) => block[1] === "CERTIFICATE")
    if (first === undefined) return yield* invalid("certificate", "holds no PEM CERTIFICATE block")
    // The TLS stack takes the first private key block, as this does.
    const keyBlock = [...Redacted.value(input.privateKey).matchAll(pemBlock)].find((block) =>
      /PRIVATE KEY$/.test(block[1])
    )
    if (keyBlock === undefined) return yield* invalid("privateKey", "holds no PEM PRIVATE KEY block")
    if (keyBlock[1] === "ENCRYPTED PRIVATE KEY") {
      return yield* invalid("privateKey", "is encrypted, and no passphrase can be given: give the key decrypted")
    }
    const der = yield* Effect.try({
      try: () => derOf(first[2]),
      catch: () => invalid("certificate", "is not valid base64 inside its PEM block")
    })
    const keyDer = yield* Effect.try({
      try: () => derOf(keyBlock[2]),
      catch: () => invalid("privateKey", "is not valid base64 inside its PEM block")
    })
    // A key that is not the certificate's would fail every TLS connection: refused here, once. A key
    // WebCrypto cannot read (Ed448, RSASSA-PSS, other curves) the TLS stack may still take, so it is
    // not checked here; a mismatch then fails the first token request as a ClientConfigurationError.
    const key = yield* importTlsKey(keyBlock[1], keyDer)
    if (key !== undefined && (yield* keyMatch(first[0], key.key, key.algorithm)) !== "Match") {
      return yield* invalid(
        "privateKey",
        `is not the private key of the certificate (the first CERTIFICATE block of ${field}.certificate): give the key the certificate was issued for`
      )
    }
    return new ClientCertificate({
      certificate: input.certificate,
      privateKey: input.privateKey,
      thumbprint: yield* thumbprintOf(der)
    })
  })

/**
 * The certificate a client authenticates with, if it uses one of the certificate methods.
 *
 * @since 0.2.0
 * @category utils
 */
export const certificateOf = (client: {
  readonly authentication?: { readonly _tag: string } | undefined
}): ClientCertificate | undefined =>
  client.authentication instanceof TlsClientAuth || client.authentication instanceof SelfSignedTlsClientAuth
    ? client.authentication.certificate
    : undefined

/**
 * `client`, which presents `certificate` on its connections, marked as doing so: the
 * `@access-token/platform` middleware sends a token bound to a certificate only through a client
 * marked for that certificate, and fails with {@link CertificateNotPresentedError} before sending
 * otherwise. A `MutualTls` service returns its clients marked (`NodeMutualTls` does); the mark
 * travels with each request through every combinator and is taken off before the request is sent.
 *
 * @since 0.2.0
 * @category combinators
 */
export const presenting: (client: HttpClient.HttpClient, certificate: ClientCertificate) => HttpClient.HttpClient =
  presented.presenting

/**
 * The thumbprint of the certificate the client sending `request` presents, when it is marked by
 * {@link presenting}.
 *
 * @since 0.2.0
 * @category utils
 */
export const presentedBy: (request: HttpClientRequest.HttpClientRequest) => string | undefined = presented.presentedBy

/**
 * A token bound to a client certificate (RFC 8705 §3) was about to be sent through an `HttpClient`
 * that does not present that certificate: without it, the API refuses the token. Nothing was sent.
 *
 * @since 0.2.0
 * @category errors
 */
export class CertificateNotPresentedError extends Schema.TaggedError<CertificateNotPresentedError>(
  "@access-token/core/MutualTls/CertificateNotPresentedError"
)("CertificateNotPresentedError", {
  client: Schema.String,
  /** The client presents a certificate, but another one (from before a rotation, or another client's). */
  presentsAnother: Schema.Boolean
}) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    const what = this.presentsAnother ? "presents another certificate" : "presents no client certificate"
    return `The access tokens of client "${this.client}" are bound to its certificate (RFC 8705), but the ` +
      `HttpClient under the middleware ${what}, so the API would refuse them; nothing was sent. Build that ` +
      `HttpClient on the certificate's transport: NodeMutualTls.layerHttpClient("${this.client}") or ` +
      `NodeMutualTls.httpClientOf("${this.client}") of @access-token/platform-node (on another runtime, ` +
      `MutualTls's httpClient(certificate), marked with MutualTls.presenting), and build it again when the ` +
      `client's certificate is replaced`
  }
}
