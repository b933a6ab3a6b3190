import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import type * as ClientAuthentication from "../ClientAuthentication.js"
import { ClientConfigurationError } from "../TokenError.js"
import { derOf, pemBlock, thumbprintOf } from "./certificate.js"

/**
 * Key loading and assertion signing (RFC 7523, OpenID Connect Core §9) on `jose`. Nothing here
 * ever puts key material, a secret or an assertion into an error: every reason is written here,
 * none is taken from an exception.
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

const fail = (client: string, field: string, reason: string) =>
  Effect.fail(new ClientConfigurationError({ client, field, reason }))

/** Where a key is configured: the client and the paths of its key and algorithm fields. */
interface KeyFields {
  readonly client: string
  readonly privateKey: string
  readonly algorithm: string
}

const misconfigured = (fields: KeyFields, name: "privateKey" | "algorithm", reason: string) =>
  fail(fields.client, fields[name], reason)

const attempt = <A>(f: () => Promise<A>): Effect.Effect<A | undefined> =>
  Effect.promise(() => f().catch(() => undefined))

/** Node's, Deno's and Bun's `CryptoKey` alike, without relying on a global class. */
const isCryptoKey = (u: unknown): u is CryptoKey =>
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

const keyTypeOf = (algorithm: string): string | undefined =>
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

interface Imported {
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
    return yield* misconfigured(
      fields,
      "privateKey",
      `is not ${supportedKeys} (an RSASSA-PSS-only key is not supported)`
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
    return misconfigured(fields, "privateKey", "is a public key: the private key is needed to sign")
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

const importPrivateKey = (
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
    const text = value.trim()
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

const probe = new TextEncoder().encode("access-token key check")

/**
 * The certificate's SHA-256 thumbprint (`x5t#S256`, RFC 7515 §4.1.8), after checking that the
 * certificate holds the public half of `key`: a signature by the key must verify with it.
 */
const certificateThumbprint = (
  client: string,
  field: string,
  certificate: string,
  imported: Imported
): Effect.Effect<string, ClientConfigurationError> =>
  Effect.gen(function*() {
    const leaf = [...certificate.matchAll(pemBlock)].find((block) => block[1] === "CERTIFICATE")
    const der = leaf === undefined ? undefined : yield* Effect.option(Effect.try(() => derOf(leaf[2])))
    if (leaf === undefined || der === undefined || der._tag === "None") {
      return yield* fail(client, field, "is not a PEM X.509 certificate")
    }
    const publicKey = yield* attempt(() => Jose.importX509(leaf[0], imported.algorithm))
    if (publicKey === undefined) {
      return yield* fail(client, field, `does not hold a public key for ${imported.algorithm}`)
    }
    const signature = yield* attempt(() =>
      new Jose.CompactSign(probe).setProtectedHeader({ alg: imported.algorithm }).sign(imported.key)
    )
    const verified = signature === undefined
      ? undefined
      : yield* attempt(() => Jose.compactVerify(signature, publicKey))
    if (verified === undefined) return yield* fail(client, field, "does not belong to the private key")
    return yield* thumbprintOf(der.value)
  })

/**
 * Imports a private key and checks that it signs with the algorithm it will be used with; a key
 * that cannot (an RSA key under 2048 bits, say) fails here, when the client is built, not on the
 * first token request.
 */
export const loadSigningKey = (
  client: string,
  field: string,
  input: ClientAuthentication.SigningKeyInput
): Effect.Effect<ClientAuthentication.SigningKey, ClientConfigurationError> =>
  Effect.gen(function*() {
    const fields = { client, privateKey: `${field}.privateKey`, algorithm: `${field}.algorithm` }
    const imported = yield* importPrivateKey(fields, input.privateKey, input.algorithm)
    const signed = yield* attempt(() =>
      new Jose.CompactSign(probe).setProtectedHeader({ alg: imported.algorithm }).sign(imported.key)
    )
    if (signed === undefined) {
      return yield* fail(
        client,
        `${field}.privateKey`,
        `cannot sign with ${imported.algorithm} (an RSA key must have at least 2048 bits)`
      )
    }
    const certificateThumbprintS256 = input.certificate === undefined
      ? undefined
      : yield* certificateThumbprint(client, `${field}.certificate`, input.certificate, imported)
    return {
      key: imported.key,
      algorithm: imported.algorithm as ClientAuthentication.SigningAlgorithm,
      keyId: input.keyId ?? imported.keyId,
      certificateThumbprintS256
    }
  })

/** A random `jti` of 128 bits: unique per assertion, so that no attempt is refused as a replay. */
export const randomJwtId = (): string => Jose.base64url.encode(globalThis.crypto.getRandomValues(new Uint8Array(16)))

/** What an assertion says; the timing claims are added by {@link sign}. */
export interface Claims {
  readonly iss: string
  readonly sub: string | undefined
  readonly aud: string
  readonly scope?: string | undefined
}

/** How long an assertion is valid and how far back it is dated. */
export interface Validity {
  readonly lifetime: Duration.Duration
  readonly clockSkew: Duration.Duration
}

/** The header of an assertion signed by `key`: the algorithm, and what identifies the key. */
const headerOf = (key: ClientAuthentication.SigningKey): Jose.JWSHeaderParameters & { alg: string } => ({
  alg: key.algorithm,
  ...(key.keyId === undefined ? {} : { kid: key.keyId }),
  ...(key.certificateThumbprintS256 === undefined ? {} : { "x5t#S256": key.certificateThumbprintS256 })
})

const hmacKeys = new WeakMap<Redacted.Redacted<string>, Map<string, Promise<CryptoKey>>>()

/**
 * The client secret as a non-extractable HMAC key, imported once per secret and algorithm: the
 * secret leaves its `Redacted` box once, and no attempt pays for the import again.
 */
const hmacKey = (secret: Redacted.Redacted<string>, algorithm: string): Promise<CryptoKey> => {
  let byAlgorithm = hmacKeys.get(secret)
  if (byAlgorithm === undefined) hmacKeys.set(secret, byAlgorithm = new Map())
  let key = byAlgorithm.get(algorithm)
  if (key === undefined) {
    key = globalThis.crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(Redacted.value(secret)),
      { name: "HMAC", hash: `SHA-${algorithm.slice(2)}` },
      false,
      ["sign"]
    )
    // A failed import is not kept: the next attempt tries again and fails the same typed way.
    key.catch(() => byAlgorithm.delete(algorithm))
    byAlgorithm.set(algorithm, key)
  }
  return key
}

/** What signs an assertion: a private key, or the HMAC of a client secret. */
export type Signer =
  | { readonly _tag: "Key"; readonly key: ClientAuthentication.SigningKey }
  | { readonly _tag: "Secret"; readonly algorithm: string; readonly secret: Redacted.Redacted<string> }

/**
 * Signs one assertion with a fresh `jti`, dated by `Clock` (so that `TestClock` controls it):
 * `iat` and `nbf` are set back by the clock-skew allowance, so that a token endpoint whose clock
 * is a little behind does not see an assertion from the future, and `exp` is `lifetime` from now.
 */
export const sign = (
  client: string,
  signer: Signer,
  claims: Claims,
  validity: Validity
): Effect.Effect<Redacted.Redacted<string>, ClientConfigurationError> =>
  Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) => {
    const issuedAt = Math.floor((now - Duration.toMillis(validity.clockSkew)) / 1000)
    const expiresAt = Math.floor((now + Duration.toMillis(validity.lifetime)) / 1000)
    const jwt = new Jose.SignJWT({ ...(claims.scope === undefined ? {} : { scope: claims.scope }) })
      .setIssuer(claims.iss)
      .setAudience(claims.aud)
      .setJti(randomJwtId())
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expiresAt)
    if (claims.sub !== undefined) jwt.setSubject(claims.sub)
    return Effect.tryPromise({
      try: () =>
        signer._tag === "Key"
          ? jwt.setProtectedHeader(headerOf(signer.key)).sign(signer.key.key)
          : hmacKey(signer.secret, signer.algorithm).then((key) =>
            jwt.setProtectedHeader({ alg: signer.algorithm }).sign(key)
          ),
      catch: () =>
        new ClientConfigurationError({
          client,
          field: "authentication",
          reason: "the client assertion could not be signed"
        })
    }).pipe(Effect.map(Redacted.make))
  })
