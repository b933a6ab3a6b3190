// @ts-nocheck
import * as Effect from "effect/Effect"
import * as Jose from "jose"

/**
 * PEM and X.509 pieces shared by the certificate methods (RFC 8705) and client assertions'
 * `x5t#S256` header: one reading of PEM, one thumbprint, one check of a key against its
 * certificate. WebCrypto and `jose` only, so that it runs on any runtime.
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

const probe = new TextEncoder().encode("access-token key check")

/** WebCrypto's parameters of a signature by `key`, from the algorithm it was imported for. */
const signatureParameters = (key: CryptoKey) =>
  key.algorithm.name === "ECDSA"
    ? { name: "ECDSA", hash: "SHA-256" }
    : key.algorithm.name === "RSA-PSS"
    ? { name: "RSA-PSS", saltLength: 32 }
    : { name: key.algorithm.name }

/**
 * Whether a certificate (one PEM `CERTIFICATE` block) holds the public half of `key`, a private key
 * imported for the JOSE `algorithm`: a signature by the key must verify with the certificate's
 * public key. `NoPublicKey` when the certificate holds no key for that algorithm (a key of another
 * type). Signed with WebCrypto itself, so that no signing policy of `jose` decides the answer.
 */
export const keyMatch = (
  certificate: string,
  key: CryptoKey,
  algorithm: string
): Effect.Effect<"Match" | "Mismatch" | "NoPublicKey"> =>
  Effect.promise(async () => {
    const publicKey = await Jose.importX509(certificate, algorithm).catch(() => undefined)
    if (publicKey === undefined) return "NoPublicKey"
    const parameters = signatureParameters(key)
    const signature = await globalThis.crypto.subtle.sign(parameters, key, probe).catch(() => undefined)
    const verified = signature !== undefined &&
      await globalThis.crypto.subtle.verify(parameters, publicKey, signature, probe).catch(() => false)
    return verified ? "Match" : "Mismatch"
  })

/** A DER length. */
const lengthOf = (length: number): Array<number> =>
  length < 0x80
    ? [length]
    : length < 0x100
    ? [0x81, length]
    : length < 0x10000
    ? [0x82, length >> 8, length & 0xff]
    : [0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]

/** A DER element of `tag` holding `parts`. */
const element = (tag: number, ...parts: ReadonlyArray<Uint8Array>): Uint8Array<ArrayBuffer> => {
  const size = parts.reduce((total, part) => total + part.length, 0)
  const header = [tag, ...lengthOf(size)]
  const out = new Uint8Array(header.length + size)
  out.set(header)
  let offset = header.length
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** The elements inside a DER SEQUENCE, or `undefined` when `der` is not one. */
const sequenceOf = (der: Uint8Array): Array<{ readonly tag: number; readonly contents: Uint8Array }> | undefined => {
  const read = (at: number) => {
    if (at + 2 > der.length) return undefined
    let length = der[at + 1]
    let start = at + 2
    if (length >= 0x80) {
      const bytes = length & 0x7f
      if (bytes < 1 || bytes > 3 || start + bytes > der.length) return undefined
      length = 0
      for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]
      start += bytes
    }
    return start + length > der.length ? undefined : { tag: der[at], start, end: start + length }
  }
  const outer = read(0)
  if (outer === undefined || outer.tag !== 0x30) return undefined
  const elements: Array<{ readonly tag: number; readonly contents: Uint8Array }> = []
  for (let at = outer.start; at < outer.end;) {
    const inner = read(at)
    if (inner === undefined || inner.end > outer.end) return undefined
    elements.push({ tag: inner.tag, contents: der.subarray(inner.start, inner.end) })
    at = inner.end
  }
  return elements
}

const version0 = Uint8Array.of(0x02, 0x01, 0x00)
/** The AlgorithmIdentifier members of `rsaEncryption` (OID 1.2.840.113549.1.1.1, NULL parameters). */
const rsaEncryption = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00)
/** The OID of `id-ecPublicKey` (1.2.840.10045.2.1). */
const ecPublicKey = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01)

/**
 * A private key in PKCS#8 (RFC 5208), the one form WebCrypto reads: PKCS#1 (`RSA PRIVATE KEY`) and
 * SEC 1 (`EC PRIVATE KEY`) keys, which TLS stacks take as they are, are wrapped in it.
 */
const pkcs8Of = (label: string, der: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | undefined => {
  switch (label) {
    case "PRIVATE KEY":
      return der
    case "RSA PRIVATE KEY":
      return element(0x30, version0, element(0x30, rsaEncryption), element(0x04, der))
    case "EC PRIVATE KEY": {
      // SEC 1 names the curve in the key's [0] parameters; PKCS#8 names it in the algorithm.
      const curve = sequenceOf(der)?.find((member) => member.tag === 0xa0)?.contents
      return curve === undefined
        ? undefined
        : element(0x30, version0, element(0x30, ecPublicKey, curve), element(0x04, der))
    }
    default:
      return undefined
  }
}

/**
 * What a TLS client key is tried as, one per key type WebCrypto can sign with on every runtime, and
 * its JOSE algorithm. Not Ed448: Node's WebCrypto reads it only as an experimental feature, with a
 * warning on the process's stderr.
 */
const tlsKeyTypes = [
  ["RS256", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }],
  ["PS256", { name: "RSA-PSS", hash: "SHA-256" }],
  ["ES256", { name: "ECDSA", namedCurve: "P-256" }],
  ["ES384", { name: "ECDSA", namedCurve: "P-384" }],
  ["ES512", { name: "ECDSA", namedCurve: "P-521" }],
  ["EdDSA", { name: "Ed25519" }]
] as const

/**
 * A TLS client's private key (a PEM block's label and bytes) read with WebCrypto, with the JOSE
 * algorithm it signs with, for {@link keyMatch}; `undefined` for a key of a type WebCrypto cannot
 * sign with, or not a key.
 */
export const importTlsKey = (
  label: string,
  der: Uint8Array<ArrayBuffer>
): Effect.Effect<{ readonly key: CryptoKey; readonly algorithm: string } | undefined> =>
  Effect.promise(async () => {
    const pkcs8 = pkcs8Of(label, der)
    if (pkcs8 === undefined) return undefined
    for (const [algorithm, parameters] of tlsKeyTypes) {
      const key = await globalThis.crypto.subtle.importKey("pkcs8", pkcs8, parameters, false, ["sign"]).catch(() =>
        undefined
      )
      if (key !== undefined) return { key, algorithm }
    }
    return undefined
  })
