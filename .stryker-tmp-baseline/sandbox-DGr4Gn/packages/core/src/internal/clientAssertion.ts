// @ts-nocheck
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import type * as ClientAuthentication from "../ClientAuthentication.js"
import { ClientConfigurationError } from "../TokenError.js"
import { derOf, keyMatch, pemBlock, thumbprintOf } from "./certificate.js"
import { noteKey } from "./definition.js"
import { attempt, fail, type Imported, importPrivateKey, unescapePem } from "./privateKey.js"

/**
 * Key loading and assertion signing (RFC 7523, OpenID Connect Core §9) on `jose`. Nothing here
 * ever puts key material, a secret or an assertion into an error: every reason is written here,
 * none is taken from an exception.
 */

const probe = new TextEncoder().encode("access-token key check")

/**
 * The certificate's thumbprints: SHA-256 (`x5t#S256`, RFC 7515 §4.1.8) and, when asked, SHA-1
 * (`x5t`, §4.1.7), after checking that the certificate holds the public half of `key`: a signature
 * by the key must verify with it.
 */
const certificateThumbprints = (
  client: string,
  field: string,
  certificate: string,
  imported: Imported,
  sha1: boolean
): Effect.Effect<{ readonly s256: string; readonly sha1: string | undefined }, ClientConfigurationError> =>
  Effect.gen(function*() {
    const leaf = [...unescapePem(certificate.trim()).matchAll(pemBlock)].find((block) => block[1] === "CERTIFICATE")
    const der = leaf === undefined ? undefined : yield* Effect.option(Effect.try(() => derOf(leaf[2])))
    if (leaf === undefined || der === undefined || der._tag === "None") {
      return yield* fail(client, field, "is not a PEM X.509 certificate")
    }
    const match = yield* keyMatch(leaf[0], imported.key, imported.algorithm)
    if (match === "NoPublicKey") {
      return yield* fail(client, field, `does not hold a public key for ${imported.algorithm}`)
    }
    if (match === "Mismatch") return yield* fail(client, field, "does not belong to the private key")
    return {
      s256: yield* thumbprintOf(der.value),
      // SHA-1 only names the certificate here, as AD FS and older Microsoft Entra ID setups look it up.
      sha1: sha1
        ? yield* Effect.promise(() => globalThis.crypto.subtle.digest("SHA-1", der.value)).pipe(
          Effect.map((digest) => Jose.base64url.encode(new Uint8Array(digest)))
        )
        : undefined
    }
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
    // So that a client loaded again from the same key (resolved again) is not taken for a changed one.
    yield* noteKey(imported.key, input.privateKey)
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
    if (input.x5t === true && input.certificate === undefined) {
      return yield* fail(client, `${field}.x5t`, "needs certificate: x5t is the certificate's SHA-1 thumbprint")
    }
    const thumbprints = input.certificate === undefined
      ? undefined
      : yield* certificateThumbprints(client, `${field}.certificate`, input.certificate, imported, input.x5t === true)
    return {
      key: imported.key,
      algorithm: imported.algorithm as ClientAuthentication.SigningAlgorithm,
      keyId: input.keyId ?? imported.keyId,
      certificateThumbprintS256: thumbprints?.s256,
      certificateThumbprintSha1: thumbprints?.sha1
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
  ...(key.certificateThumbprintS256 === undefined ? {} : { "x5t#S256": key.certificateThumbprintS256 }),
  ...(key.certificateThumbprintSha1 === undefined ? {} : { x5t: key.certificateThumbprintSha1 })
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
