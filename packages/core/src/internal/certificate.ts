import * as Effect from "effect/Effect"
import * as Jose from "jose"

/**
 * PEM and X.509 pieces shared by the certificate methods (RFC 8705) and client assertions'
 * `x5t#S256` header: one reading of PEM, one thumbprint.
 */

/** A PEM block: its label and its base64 body (match groups 1 and 2). */
export const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----/g

/** The bytes of a PEM block's base64 body; throws on invalid base64. */
export const derOf = (base64: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(base64.replace(/\s+/g, "")), (c) => c.charCodeAt(0))

/**
 * A certificate's SHA-256 thumbprint, base64url: its `x5t#S256` (RFC 7515 §4.1.8), the value a
 * certificate-bound token's `cnf` carries (RFC 8705 §3.1).
 */
export const thumbprintOf = (der: Uint8Array<ArrayBuffer>): Effect.Effect<string> =>
  Effect.map(
    Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", der)),
    (digest) => Jose.base64url.encode(new Uint8Array(digest))
  )
