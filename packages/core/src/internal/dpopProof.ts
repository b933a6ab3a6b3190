/**
 * DPoP (RFC 9449) machinery: key import and generation, proof signing, access token hashes and the
 * per-origin nonce store. The public surface is `DPoP.ts`.
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import type * as AccessToken from "../AccessToken.js"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import type * as DPoP from "../DPoP.js"
import type { TokenEndpointError } from "../TokenError.js"
import type { NonceStore } from "./dpopNonce.js"
import { htuOf } from "./targetUri.js"

/** @internal */
export const KeyTypeId: typeof DPoP.KeyTypeId = Symbol.for("@access-token/core/DPoP/Key") as typeof DPoP.KeyTypeId

// Kept in the declarations (not marked internal): the public DPoP.Algorithm is declared with it, and
// stripping it would leave the published DPoP.d.ts pointing at a type that is not there.
export type Algorithm =
  | "ES256"
  | "ES384"
  | "ES512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "RS256"
  | "RS384"
  | "RS512"
  | "Ed25519"
  | "EdDSA"

/** @internal */
export const algorithms: ReadonlyArray<Algorithm> = [
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
  "RS256",
  "RS384",
  "RS512",
  "Ed25519",
  "EdDSA"
]

/** The public members of a JWK by key type: exactly those of its RFC 7638 thumbprint. */
const publicMembers: Readonly<Record<string, ReadonlyArray<string>>> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"]
}

/**
 * The private half never leaves this map: a key object holds no reference to it that
 * `JSON.stringify`, `util.inspect` or a structured clone could reach, and the `CryptoKey` itself is
 * not extractable.
 */
const privateKeys = new WeakMap<KeyImpl, CryptoKey>()

/** @internal */
export class KeyImpl implements DPoP.Key, Inspectable.Inspectable {
  readonly [KeyTypeId]: DPoP.KeyTypeId = KeyTypeId
  /** The protected header of every proof, built once. */
  readonly header: Jose.CompactJWSHeaderParameters
  constructor(
    readonly algorithm: Algorithm,
    readonly publicJwk: Readonly<Jose.JWK>,
    readonly thumbprint: string,
    privateKey: CryptoKey
  ) {
    privateKeys.set(this, privateKey)
    this.header = { typ: "dpop+jwt", alg: algorithm, jwk: publicJwk as Jose.JWK }
  }
  toJSON(): unknown {
    return { _id: "DPoP.Key", algorithm: this.algorithm, thumbprint: this.thumbprint }
  }
  toString(): string {
    return Inspectable.format(this.toJSON())
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
}

/** @internal */
export const isKey = (u: unknown): u is KeyImpl => u instanceof KeyImpl

/** What went wrong with key material, in words that never quote it. */
export type KeyProblem = string

const inferAlgorithm = (jwk: Jose.JWK): Algorithm | undefined => {
  switch (jwk.kty) {
    case "EC":
      return jwk.crv === "P-256" ? "ES256" : jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : undefined
    case "OKP":
      return jwk.crv === "Ed25519" ? "Ed25519" : undefined
    case "RSA":
      return "PS256"
    // Stryker disable next-line ConditionalExpression: falling out of the switch returns undefined all the same
    default:
      return undefined
  }
}

const publicJwkOf = (jwk: Jose.JWK): Jose.JWK => {
  const out: Record<string, unknown> = {}
  // Stryker disable next-line StringLiteral,ArrayDeclaration: unreachable fallbacks, for the types: fromPrivateJwk
  // refused every other key type, and a generated key is of a known one
  for (const member of publicMembers[jwk.kty ?? ""] ?? []) out[member] = (jwk as Record<string, unknown>)[member]
  return out as Jose.JWK
}

const encoder = new TextEncoder()

const signWith = (privateKey: CryptoKey, header: Jose.CompactJWSHeaderParameters, claims: object): Promise<string> =>
  new Jose.CompactSign(encoder.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(privateKey)

/**
 * Builds a key from a private JWK. It signs one probe before it is returned, so that a key and an
 * algorithm that do not go together fail here, with a typed error, and never on a request.
 */
const fromPrivateJwk = async (
  jwk: Jose.JWK,
  requested: Algorithm | undefined
): Promise<Either.Either<KeyImpl, KeyProblem>> => {
  if (jwk.kty === "oct") return Either.left("is a symmetric key: DPoP needs an asymmetric private key")
  // Stryker disable next-line StringLiteral: no key type is named "" nor as the mutant names it: both are unsupported
  if (publicMembers[jwk.kty ?? ""] === undefined) {
    return Either.left("has an unsupported key type (kty)")
  }
  if (typeof jwk.d !== "string") return Either.left("is a public key: DPoP needs the private key")
  const algorithm = requested ??
    (algorithms.includes(jwk.alg as Algorithm) ? jwk.alg as Algorithm : inferAlgorithm(jwk))
  if (algorithm === undefined) return Either.left("has a curve that no DPoP signing algorithm uses")
  const publicJwk = publicJwkOf(jwk)
  const { alg: _alg, ext: _ext, key_ops: _keyOps, use: _use, ...material } = jwk
  let privateKey: CryptoKey
  try {
    privateKey = await Jose.importJWK(material, algorithm, { extractable: false }) as CryptoKey
  } catch {
    return Either.left(`cannot be imported as a ${algorithm} signing key`)
  }
  const thumbprint = await Jose.calculateJwkThumbprint(publicJwk, "sha256")
  const key = new KeyImpl(algorithm, Object.freeze(publicJwk), thumbprint, privateKey)
  try {
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: the probe checks that key and algorithm can sign; its
    // claims are thrown away
    await signWith(privateKey, key.header, { probe: true })
  } catch {
    return Either.left(`cannot sign with ${algorithm}`)
  }
  return Either.right(key)
}

/** The algorithms tried, in turn, on a PKCS#8 key that comes with none. */
const pemCandidates: ReadonlyArray<Algorithm> = ["ES256", "ES384", "ES512", "Ed25519", "PS256"]

const fromPkcs8 = async (
  pem: string,
  requested: Algorithm | undefined
): Promise<Either.Either<KeyImpl, KeyProblem>> => {
  for (const algorithm of requested === undefined ? pemCandidates : [requested]) {
    let jwk: Jose.JWK
    try {
      jwk = await Jose.exportJWK(await Jose.importPKCS8(pem, algorithm, { extractable: true }))
    } catch {
      continue
    }
    return fromPrivateJwk(jwk, requested ?? inferAlgorithm(jwk))
  }
  return Either.left(
    requested === undefined
      ? "is not a PKCS#8 private key of a supported type (EC P-256/P-384/P-521, Ed25519, RSA)"
      : `is not a PKCS#8 private key usable with ${requested}`
  )
}

/**
 * Imports a private key given as a JWK (JSON) or a PKCS#8 PEM, told apart by their first
 * character.
 *
 * @internal
 */
export const importKey = (
  material: Redacted.Redacted<string>,
  algorithm: Algorithm | undefined
): Effect.Effect<Either.Either<KeyImpl, KeyProblem>> =>
  Effect.promise(async () => {
    const text = Redacted.value(material).trim()
    if (text.startsWith("-----BEGIN")) {
      return text.startsWith("-----BEGIN PRIVATE KEY-----")
        ? fromPkcs8(text, algorithm)
        : Either.left("is a PEM block other than PKCS#8 (-----BEGIN PRIVATE KEY-----)")
    }
    let jwk: unknown
    try {
      jwk = JSON.parse(text)
    } catch {
      return Either.left("is neither a JSON Web Key nor a PKCS#8 PEM")
    }
    if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) {
      return Either.left("is not a JSON Web Key object")
    }
    return fromPrivateJwk(jwk as Jose.JWK, algorithm)
  })

/** @internal */
export const generate = (algorithm: Algorithm): Effect.Effect<Either.Either<KeyImpl, KeyProblem>> =>
  Effect.promise(async () => {
    let pair: Jose.GenerateKeyPairResult
    try {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: jose generates a non-extractable key pair by default
      // (the public key is always exportable), and no code outside this module can reach the private CryptoKey
      pair = await Jose.generateKeyPair(algorithm, { extractable: false })
    } catch {
      return Either.left(`cannot be generated for ${algorithm} on this runtime`)
    }
    const publicJwk = publicJwkOf(await Jose.exportJWK(pair.publicKey))
    const thumbprint = await Jose.calculateJwkThumbprint(publicJwk, "sha256")
    return Either.right(new KeyImpl(algorithm, Object.freeze(publicJwk), thumbprint, pair.privateKey))
  })

/** @internal */
export interface ProofClaims {
  readonly htm: string
  readonly htu: string
  readonly iat: number
  readonly jti: string
  readonly nonce?: string | undefined
  readonly ath?: string | undefined
}

/**
 * Signs one proof. Signing with a key that already signed its probe cannot fail short of a broken
 * runtime, so a failure here is a defect.
 *
 * @internal
 */
export const sign = (key: KeyImpl, claims: ProofClaims): Effect.Effect<Redacted.Redacted<string>> =>
  Effect.promise(() => signWith(privateKeys.get(key)!, key.header, claims)).pipe(Effect.map(Redacted.make))

/**
 * Builds the claims of a proof for a request sent now, with a fresh `jti`.
 *
 * @internal
 */
export const claims = (
  nowMillis: number,
  method: string,
  url: string,
  nonce: string | undefined,
  ath: string | undefined
): ProofClaims => {
  const out: {
    htm: string
    htu: string
    iat: number
    jti: string
    nonce?: string
    ath?: string
  } = { htm: method.toUpperCase(), htu: htuOf(url), iat: Math.floor(nowMillis / 1000), jti: crypto.randomUUID() }
  if (nonce !== undefined) out.nonce = nonce
  if (ath !== undefined) out.ath = ath
  return out
}

const athCache = new WeakMap<Redacted.Redacted<string>, string>()

const base64url = (bytes: ArrayBuffer): string => Jose.base64url.encode(new Uint8Array(bytes))

/**
 * `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token. A token is used for many
 * requests, so its hash is computed once and kept with the token's `Redacted` box, which lives
 * exactly as long as the token.
 *
 * @internal
 */
export const accessTokenHash = (token: Redacted.Redacted<string>): Effect.Effect<string> => {
  const cached = athCache.get(token)
  if (cached !== undefined) return Effect.succeed(cached)
  return Effect.promise(() => crypto.subtle.digest("SHA-256", encoder.encode(Redacted.value(token)))).pipe(
    Effect.map((digest) => {
      const ath = base64url(digest)
      athCache.set(token, ath)
      return ath
    })
  )
}

let lastNames: ReadonlyArray<string | RegExp> | undefined
// Stryker disable next-line ArrayDeclaration: never read before the first list sets it, as no list is undefined
let lastWithProof: ReadonlyArray<string | RegExp> = []

/** The redacted header names with `dpop` added, computed once per distinct list. */
const withProofName = (names: ReadonlyArray<string | RegExp>): ReadonlyArray<string | RegExp> => {
  if (names === lastNames) return lastWithProof
  lastNames = names
  lastWithProof = names.includes("dpop") ? names : [...names, "dpop"]
  return lastWithProof
}

/**
 * Masks the `DPoP` header wherever `@effect/platform` shows request headers (client spans): a proof
 * can be replayed until it is too old, as the token beside it can.
 *
 * @internal
 */
export const redactingProofs = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(effect, Headers.currentRedactedNames, withProofName)

/**
 * Adds a new proof to `request` (its method and URL), with the nonce its origin gave last and, for
 * a resource request, `ath` of the token it carries.
 *
 * @internal
 */
export const withProof = (
  request: HttpClientRequest.HttpClientRequest,
  key: KeyImpl,
  nonces: NonceStore,
  accessToken: Redacted.Redacted<string> | undefined
): Effect.Effect<HttpClientRequest.HttpClientRequest> =>
  Effect.flatMap(
    accessToken === undefined ? Effect.void : accessTokenHash(accessToken),
    (ath) =>
      Effect.clockWith((clock) =>
        Effect.map(
          sign(
            key,
            claims(
              clock.unsafeCurrentTimeMillis(),
              request.method,
              request.url,
              nonces.get(request.url),
              ath ?? undefined
            )
          ),
          (proof) => HttpClientRequest.setHeader(request, "dpop", Redacted.value(proof))
        )
      )
  )

const isNonceRefusal = (error: TokenEndpointError): boolean =>
  error._tag === "TokenRefusedError" && error.error === "use_dpop_nonce"

/**
 * One attempt at the token endpoint, with DPoP when the client uses it: a new proof on every try
 * (built after `encode`, so after a fresh client assertion too), one more try when the endpoint
 * refuses with `use_dpop_nonce` and has just given a nonce (RFC 9449 §8). `send` must feed `nonces`
 * from every response, and refuse a `Bearer` answer unless the client allows the downgrade (the
 * token response does, with the answer's status and content type at hand).
 *
 * @internal
 */
export const tokenAttempt = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  tokenEndpoint: string,
  nonces: NonceStore,
  encode: Effect.Effect<HttpClientRequest.HttpClientRequest, TokenEndpointError>,
  send: (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<AccessToken.AccessToken, TokenEndpointError>
): Effect.Effect<AccessToken.AccessToken, TokenEndpointError> => {
  const dpop = client.dpop
  if (dpop === undefined) return Effect.flatMap(encode, send)
  const key = dpop.key as KeyImpl
  const once = encode.pipe(
    Effect.flatMap((request) => withProof(request, key, nonces, undefined)),
    Effect.flatMap(send)
  )
  return once.pipe(
    Effect.catchIf((error) => isNonceRefusal(error) && nonces.get(tokenEndpoint) !== undefined, () => once),
    redactingProofs
  )
}
