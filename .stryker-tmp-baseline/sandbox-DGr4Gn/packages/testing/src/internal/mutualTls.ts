// @ts-nocheck
import * as crypto from "node:crypto"
import type { TLSSocket } from "node:tls"
import type * as Oidc from "oidc-provider"
import type * as TokenServer from "../TokenServer.js"

/** The methods of RFC 8705 §2. */
export const certificateMethods: ReadonlyArray<TokenServer.TokenEndpointAuthMethod> = [
  "tls_client_auth",
  "self_signed_tls_client_auth"
]

/** Whether a client authenticates with its TLS client certificate. */
export const isCertificateMethod = (method: TokenServer.TokenEndpointAuthMethod): boolean =>
  certificateMethods.includes(method)

/** The certificate the client presented on the connection of the request, if any. */
export const peerCertificate = (ctx: Oidc.KoaContextWithOIDC): crypto.X509Certificate | undefined =>
  (ctx.socket as Partial<TLSSocket>).getPeerX509Certificate?.()

/**
 * oidc-provider's mutual TLS (RFC 8705): both client authentication methods, and access tokens
 * bound to the client certificate (`cnf.x5t#S256`) for clients registered so. The certificate is
 * read from the TLS connection, which the server lets through whatever it presents, so that the
 * verdict is oidc-provider's.
 */
export const feature: Oidc.Configuration["features"] = {
  mTLS: {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: peerCertificate,
    certificateAuthorized: (ctx) => (ctx.socket as Partial<TLSSocket>).authorized === true,
    // Only the subject DN is registered by this server (`tls_client_auth_subject_dn`).
    certificateSubjectMatches: (ctx, property, expected) =>
      property === "tls_client_auth_subject_dn" && peerCertificate(ctx)?.subject === expected
  }
}

/** The registration of a client that authenticates with a certificate. */
export const clientMetadata = (client: TokenServer.Client): Partial<Oidc.ClientMetadata> => {
  if (!isCertificateMethod(client.tokenEndpointAuthMethod)) return {}
  if (client.certificate === undefined) {
    throw new Error(`client ${client.clientId} uses ${client.tokenEndpointAuthMethod} but has no certificate`)
  }
  const certificate = new crypto.X509Certificate(client.certificate)
  return {
    tls_client_certificate_bound_access_tokens: true,
    ...(client.tokenEndpointAuthMethod === "tls_client_auth"
      ? { tls_client_auth_subject_dn: certificate.subject }
      : {
        jwks: {
          keys: [{ ...certificate.publicKey.export({ format: "jwk" }), x5c: [certificate.raw.toString("base64")] }]
        }
      })
  }
}
