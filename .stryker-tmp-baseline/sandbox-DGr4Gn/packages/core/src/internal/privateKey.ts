// @ts-nocheck
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import type * as ClientAuthentication from "../ClientAuthentication.js"
import { ClientConfigurationError } from "../TokenError.js"
import { derOf } from "./certificate.js"

/**
 * A private key read in any of the forms a user may give it (PKCS#8 PEM, private JWK as JSON text
 * or object, WebCrypto `CryptoKey`) and imported for the algorithm it signs with. Nothing here ever
 * puts key material into an error: every reason is written here, none is taken from an exception.
 */

/** The algorithms a private key signs with, by key type; the first is the default. */
const algorithmsByKeyType: ReadonlyArray<readonly [keyType: string, algorithms: ReadonlyArray<string>]> = [
  ["an RSA key", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]],
  ["an EC P-256 key", ["ES256"]],
  ["an EC P-384 key", ["ES384"]],
  ["an EC P-521 key", ["ES512"]],
  ["an Ed25519 key", ["EdDSA"]]
]

const supportedKeys = "a PKCS#8 PEM or a private JWK of an RSA, EC (P-256, P-384, P-521) or Ed25519 key"

export const fail = (client: string, field: string, reason: string) =>
  Effect.fail(new ClientConfigurationError({ client, field, reason }))

/** Where a key is configured: the client and the paths of its key and algorithm fields. */
export interface KeyFields {
  readonly client: string
  readonly privateKey: string
  readonly algorithm: string
}

const misconfigured = (fields: KeyFields, name: "privateKey" | "algorithm", reason: string) =>
  fail(fields.client, fields[name], reason)

export const attempt = <A>(f: () => Promise<A>): Effect.Effect<A | undefined> =>
  Effect.promise(() => f().catch(() => undefined))

/** Node's, Deno's and Bun's `CryptoKey` alike, without relying on a global class. */
export const isCryptoKey = (u: unknown): u is CryptoKey =>
  Predicate.hasProperty(u, "algorithm") && Predicate.hasProperty(u, "usages") && Predicate.hasProperty(u, "type") &&
  Predicate.hasProperty(u, "extractable")

/** The JOSE algorithm of a WebCrypto key, from its algorithm parameters. */
const algorithmOfCryptoKey = (key: CryptoKey): string | undefined => {
  const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string }
  const bits = algorithm.hash?.name.replace("SHA-", "")
  switch (algorithm.name) {
    case "RSASSA-PKCS1-v1_5":
      return bits === undefined ? undefined : `RS${bits}`
    case "RSA-PSS":
      return bits === undefined ? undefined : `PS${bits}`
    case "ECDSA":
      return algorithm.namedCurve === "P-256"
        ? "ES256"
        : algorithm.namedCurve === "P-384"
        ? "ES384"
        : algorithm.namedCurve === "P-521"
        ? "ES512"
        : undefined
    case "Ed25519":
      return "EdDSA"
    default:
      return undefined
  }
}

/** The default algorithm of a JWK, from its key type and curve. */
const algorithmOfJwk = (jwk: Jose.JWK): string | undefined =>
  jwk.kty === "RSA"
    ? "RS256"
    : jwk.kty === "EC"
    ? ({ "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" } as Record<string, string>)[jwk.crv ?? ""]
    : jwk.kty === "OKP" && jwk.crv === "Ed25519"
    ? "EdDSA"
    : undefined

export const keyTypeOf = (algorithm: string): string | undefined =>
  algorithmsByKeyType.find(([, algorithms]) => algorithms.includes(algorithm))?.[0]

/** "algorithm ES256 does not fit the key (an RSA key, which signs with RS256, ..., PS512)". */
const misfit = (algorithm: string, keyAlgorithm: string | undefined): string => {
  const keyType = keyAlgorithm === undefined ?
    undefined :
    algorithmsByKeyType.find(([type]) => type === keyTypeOf(keyAlgorithm))
  return keyType === undefined
    ? `${algorithm} does not fit the key`
    : `${algorithm} does not fit the key (${keyType[0]}, which signs with ${keyType[1].join(", ")})`
}

const pemLabel = (text: string): string | undefined => /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1]

/**
 * A PEM kept on one line with literal `\n` (as `.env` files and secret stores hold it), made the PEM
 * it stands for; any other text unchanged. Only after an armor line: base64 has no backslash, so a
 * literal backslash-n there can only be an escaped line break.
 */
export const unescapePem = (text: string): string =>
  /^-----BEGIN [A-Z0-9 ]+-----(?:\\r)?\\n/.test(text) ? text.replace(/(?:\\r)?\\n/g, "\n") : text

const rsassaPss = "2a864886f70d01010a" // 1.2.840.113549.1.1.10, id-RSASSA-PSS (RFC 4055)

/** The algorithm OID (hex) of a PKCS#8 PEM's PrivateKeyInfo (RFC 5208 §5), read without importing the key. */
const pkcs8AlgorithmOf = (pem: string): string | undefined => {
  const body = /^-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]*)-----END PRIVATE KEY-----/.exec(pem)?.[1]
  let der: Uint8Array
  try {
    der = derOf(body ?? "")
  } catch {
    return undefined
  }
  let at = 0
  // A DER tag and length, `at` moved past them: the length, or undefined when the tag differs.
  const header = (tag: number): number | undefined => {
    if (der[at] !== tag || at + 1 >= der.length) return undefined
    let length = der[at + 1]!
    at += 2
    if (length > 0x7f) {
      const size = length & 0x7f
      if (size === 0 || size > 3 || at + size > der.length) return undefined
      length = 0
      for (let i = 0; i < size; i++) length = length * 256 + der[at++]!
    }
    return length
  }
  if (header(0x30) === undefined) return undefined
  const version = header(0x02)
  if (version === undefined) return undefined
  at += version
  if (header(0x30) === undefined) return undefined
  const oid = header(0x06)
  if (oid === undefined || at + oid > der.length) return undefined
  return Array.from(der.subarray(at, at + oid), (byte) => byte.toString(16).padStart(2, "0")).join("")
}

const publicKey = "is a public key: give the private key instead (a PKCS#8 PEM, \"-----BEGIN PRIVATE KEY-----\", " +
  "or a private JWK); the server keeps the public key"

export interface Imported {
  readonly key: CryptoKey
  readonly algorithm: string
  readonly keyId: string | undefined
}

const importPem = (
  fields: KeyFields,
  pem: string,
  algorithm: string | undefined
): Effect.Effect<Imported, ClientConfigurationError> => {
  const label = pemLabel(pem)
  if (label === "RSA PRIVATE KEY" || label === "EC PRIVATE KEY") {
    return misconfigured(
      fields,
      "privateKey",
      `is a ${label} PEM (PKCS#1 or SEC 1): convert it to PKCS#8 ("openssl pkcs8 -topk8 -nocrypt") and use that`
    )
  }
  if (label === "ENCRYPTED PRIVATE KEY") {
    return misconfigured(
      fields,
      "privateKey",
      "is an encrypted PKCS#8 key: give the key decrypted, kept in a secret store"
    )
  }
  if (label === "PUBLIC KEY" || label === "RSA PUBLIC KEY") return misconfigured(fields, "privateKey", publicKey)
  if (label === "CERTIFICATE") {
    return misconfigured(
      fields,
      "privateKey",
      "is a certificate: give its private key instead (a PKCS#8 PEM, \"-----BEGIN PRIVATE KEY-----\"); " +
        "the certificate belongs in certificate"
    )
  }
  if (label !== "PRIVATE KEY") {
    return misconfigured(fields, "privateKey", `is not ${supportedKeys}`)
  }
  // A PKCS#8 key does not say which algorithm it is for, and WebCrypto needs one to import it:
  // each key type's default is tried in turn, which also names the key type when the configured
  // algorithm does not fit.
  const importAs = (alg: string) => attempt(() => Jose.importPKCS8(pem, alg))
  return Effect.gen(function*() {
    if (algorithm !== undefined) {
      const key = yield* importAs(algorithm)
      if (key !== undefined) return { key, algorithm, keyId: undefined }
    }
    for (const [, [defaultAlgorithm]] of algorithmsByKeyType) {
      const key = yield* importAs(defaultAlgorithm)
      if (key === undefined) continue
      if (algorithm !== undefined) return yield* misconfigured(fields, "algorithm", misfit(algorithm, defaultAlgorithm))
      return { key, algorithm: defaultAlgorithm, keyId: undefined }
    }
    // WebCrypto imports RSA keys by rsaEncryption only; an id-RSASSA-PSS key reads as "not a key".
    return yield* misconfigured(
      fields,
      "privateKey",
      pkcs8AlgorithmOf(pem) === rsassaPss
        ? "is an RSASSA-PSS key (id-RSASSA-PSS), which WebCrypto cannot import: use an RSA key (rsaEncryption) " +
          "with algorithm PS256 to sign with RSA-PSS"
        : `is not ${supportedKeys}`
    )
  })
}

const importJwk = (
  fields: KeyFields,
  jwk: Jose.JWK,
  algorithm: string | undefined
): Effect.Effect<Imported, ClientConfigurationError> => {
  if (typeof jwk.kty !== "string") return misconfigured(fields, "privateKey", `is not ${supportedKeys}`)
  if (jwk.kty === "oct") {
    return misconfigured(fields, "privateKey", "is a symmetric key: use client_secret_jwt with the secret instead")
  }
  if (jwk.d === undefined) {
    return misconfigured(
      fields,
      "privateKey",
      "is a public key: give the private JWK instead (with its \"d\" member); the server keeps the public key"
    )
  }
  const keyAlgorithm = algorithmOfJwk(jwk)
  if (keyAlgorithm === undefined) return misconfigured(fields, "privateKey", `is not ${supportedKeys}`)
  if (algorithm !== undefined && jwk.alg !== undefined && jwk.alg !== algorithm) {
    return misconfigured(fields, "algorithm", `is ${algorithm} but the key is for ${jwk.alg}`)
  }
  const alg = algorithm ?? jwk.alg ?? keyAlgorithm
  if (keyTypeOf(alg) !== keyTypeOf(keyAlgorithm)) return misconfigured(fields, "algorithm", misfit(alg, keyAlgorithm))
  return Effect.flatMap(
    attempt(() => Jose.importJWK(jwk, alg, { extractable: false })),
    (key) =>
      isCryptoKey(key)
        ? Effect.succeed({ key, algorithm: alg, keyId: jwk.kid })
        : misconfigured(fields, "privateKey", `is not a valid ${jwk.kty} private key`)
  )
}

const importCryptoKey = (
  fields: KeyFields,
  key: CryptoKey,
  algorithm: string | undefined
): Effect.Effect<Imported, ClientConfigurationError> => {
  if (key.type !== "private" || !key.usages.includes("sign")) {
    return misconfigured(
      fields,
      "privateKey",
      "is a CryptoKey that cannot sign: a private key with the \"sign\" usage is needed"
    )
  }
  const keyAlgorithm = algorithmOfCryptoKey(key)
  if (keyAlgorithm === undefined) {
    return misconfigured(
      fields,
      "privateKey",
      `is a ${key.algorithm.name} CryptoKey, which cannot sign a client assertion`
    )
  }
  // WebCrypto binds an RSA key to one padding and hash when it is imported: only that algorithm fits.
  if (algorithm !== undefined && algorithm !== keyAlgorithm) {
    return misconfigured(fields, "algorithm", `is ${algorithm} but the CryptoKey was imported for ${keyAlgorithm}`)
  }
  return Effect.succeed({ key, algorithm: keyAlgorithm, keyId: undefined })
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export const importPrivateKey = (
  fields: KeyFields,
  privateKey: ClientAuthentication.PrivateKey,
  algorithm: string | undefined
): Effect.Effect<Imported, ClientConfigurationError> => {
  if (isCryptoKey(privateKey)) return importCryptoKey(fields, privateKey, algorithm)
  if (!Redacted.isRedacted(privateKey)) {
    return misconfigured(
      fields,
      "privateKey",
      "must be a Redacted PEM or JWK (Redacted.make or Config.redacted), or a CryptoKey"
    )
  }
  const value: unknown = Redacted.value(privateKey as Redacted.Redacted<unknown>)
  if (typeof value === "string") {
    const text = unescapePem(value.trim())
    if (text.startsWith("{")) {
      const jwk = parseJson(text)
      return Predicate.isRecord(jwk)
        ? importJwk(fields, jwk as Jose.JWK, algorithm)
        : misconfigured(fields, "privateKey", "looks like a JWK but is not valid JSON")
    }
    return importPem(fields, text, algorithm)
  }
  return Predicate.isRecord(value)
    ? importJwk(fields, value as Jose.JWK, algorithm)
    : misconfigured(fields, "privateKey", `is not ${supportedKeys}`)
}
