/**
 * DPoP (RFC 9449): the key a client proves possession of, and the proofs it signs for token
 * requests and API calls. The nonces servers hand out are kept by `DPoPNonce`.
 *
 * A token bound to a key is worthless without it: a leaked DPoP token cannot be replayed. The
 * private key stays in a non-extractable `CryptoKey` that no rendering of a {@link Key} shows, and
 * never enters a token cache; proofs are `Redacted` until they are written on the wire.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Jose from "jose"
import * as internal from "./internal/dpopProof.js"

/**
 * @since 0.2.0
 * @category symbols
 */
export const KeyTypeId: unique symbol = Symbol.for("@access-token/core/DPoP/Key")

/**
 * @since 0.2.0
 * @category symbols
 */
export type KeyTypeId = typeof KeyTypeId

/**
 * The JWS algorithms a DPoP key may sign with.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Algorithm = Schema.Literal(...internal.algorithms)

/**
 * @since 0.2.0
 * @category models
 */
export type Algorithm = typeof Algorithm.Type

/**
 * The algorithm of a generated key, and the one every DPoP server supports.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultAlgorithm: Algorithm = "ES256"

/**
 * A DPoP key: a private signing key, held where nothing can read it, with its public JWK and
 * RFC 7638 thumbprint. It renders as its algorithm and thumbprint only.
 *
 * @since 0.2.0
 * @category models
 */
export interface Key {
  readonly [KeyTypeId]: KeyTypeId
  readonly algorithm: Algorithm
  /** The public key, as it goes into the `jwk` header of every proof. */
  readonly publicJwk: Readonly<Jose.JWK>
  /** The RFC 7638 SHA-256 thumbprint of the public key: the `cnf.jkt` of the tokens bound to it. */
  readonly thumbprint: string
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isKey = (u: unknown): u is Key => internal.isKey(u)

/**
 * A {@link Key} as a field of a Schema class; it is never encoded, as a key never leaves the process.
 *
 * @since 0.2.0
 * @category schemas
 */
export const KeyFromSelf: Schema.Schema<Key> = Schema.declare(isKey, {
  identifier: "DPoP.Key",
  message: () => "must be a DPoP key (DPoP.generate or DPoP.importKey)"
})

/**
 * Key material that cannot be used for DPoP. The message says what is wrong, never what the key is.
 *
 * @since 0.2.0
 * @category errors
 */
export class KeyError extends Schema.TaggedError<KeyError>("@access-token/core/DPoP/KeyError")("DPoPKeyError", {
  reason: Schema.String
}) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    return `The DPoP key ${this.reason}`
  }
}

/**
 * Generates a key in memory (ES256 unless told otherwise). Tokens bound to it are useless to any
 * other process: replicas that share a token cache need a key from configuration instead.
 *
 * @example
 * ```ts
 * import { DPoP, TokenService } from "@access-token/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const key = yield* DPoP.generate("ES256")
 *   // The RFC 7638 thumbprint: what the server binds tokens to (cnf.jkt). The private half never shows.
 *   assert.match(key.thumbprint, /^[\w-]{43}$/)
 *   return key
 * })
 *
 * // A client whose tokens are bound to a key generated at start-up (`dpop: true` does the same).
 * const Tokens = Layer.unwrapEffect(Effect.map(program, (key) =>
 *   TokenService.layerDefault({
 *     clients: {
 *       api: { tokenEndpoint: "https://auth.example.com/token", clientId: "m2m", clientSecret: Redacted.make("s"), dpop: { key } }
 *     }
 *   })
 * )).pipe(Layer.provide(FetchHttpClient.layer))
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const generate = (algorithm: Algorithm = defaultAlgorithm): Effect.Effect<Key, KeyError> =>
  Effect.flatMap(
    internal.generate(algorithm),
    Either.match({ onLeft: (reason) => Effect.fail(new KeyError({ reason })), onRight: Effect.succeed })
  )

/**
 * Imports a private key given as a JWK (JSON text) or a PKCS#8 PEM, as read with
 * `Config.redacted`. The algorithm defaults to the key's `alg`, else follows from its type: EC
 * P-256/P-384/P-521 → ES256/ES384/ES512, Ed25519 → Ed25519, RSA → PS256.
 *
 * @example
 * ```ts
 * import { DPoP } from "@access-token/core"
 * import { Config, Effect } from "effect"
 *
 * // A key every replica shares, so that they can share bound tokens: a private JWK or PKCS#8 PEM.
 * const key = Effect.flatMap(Config.redacted("DPOP_KEY"), (material) => DPoP.importKey(material))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const importKey = (
  material: Redacted.Redacted<string>,
  options?: { readonly algorithm?: Algorithm | undefined }
): Effect.Effect<Key, KeyError> =>
  Effect.flatMap(
    internal.importKey(material, options?.algorithm),
    Either.match({ onLeft: (reason) => Effect.fail(new KeyError({ reason })), onRight: Effect.succeed })
  )

/**
 * What a proof is for: the request's method and URL (query and fragment are left out of `htu`),
 * the server's nonce if it gave one, and the access token the request carries, if any.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProofRequest {
  readonly method: string
  readonly url: string | URL
  readonly nonce?: string | undefined
  readonly accessToken?: Redacted.Redacted<string> | undefined
}

/**
 * Signs a proof (RFC 9449 §4): header `typ` `dpop+jwt`, `alg` and the public `jwk`; claims `htm`,
 * `htu`, `iat` (from `Clock`), a fresh `jti`, `nonce` when given and `ath` when the request carries
 * an access token.
 *
 * @example
 * ```ts
 * import { DPoP } from "@access-token/core"
 * import { Effect, Redacted } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const key = yield* DPoP.generate()
 *   const proof = yield* DPoP.proof(key, { method: "GET", url: "https://api.example.com/invoices?page=2" })
 *   const [header, payload] = Redacted.value(proof).split(".").slice(0, 2)
 *     .map((part) => JSON.parse(Buffer.from(part, "base64url").toString()))
 *   assert.strictEqual(header.typ, "dpop+jwt")
 *   assert.strictEqual(payload.htu, "https://api.example.com/invoices")
 *   assert.strictEqual(payload.htm, "GET")
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category proofs
 */
export const proof = (key: Key, request: ProofRequest): Effect.Effect<Redacted.Redacted<string>> => {
  const url = typeof request.url === "string" ? request.url : request.url.href
  const ath = request.accessToken === undefined ? Effect.void : internal.accessTokenHash(request.accessToken)
  return Effect.flatMap(ath, (ath) =>
    Effect.clockWith((clock) =>
      internal.sign(
        key as unknown as internal.KeyImpl,
        internal.claims(clock.unsafeCurrentTimeMillis(), request.method, url, request.nonce, ath ?? undefined)
      )
    ))
}

/**
 * `ath` (RFC 9449 §4.2): the base64url SHA-256 of an access token, computed once per token.
 *
 * @example
 * ```ts
 * import { DPoP } from "@access-token/core"
 * import { Effect, Redacted } from "effect"
 *
 * // RFC 9449 §4.2: base64url of the SHA-256 of the token.
 * const ath = Effect.runPromise(DPoP.accessTokenHash(Redacted.make("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")))
 * ath.then((hash) => assert.strictEqual(hash, "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"))
 * ```
 *
 * @since 0.2.0
 * @category proofs
 */
export const accessTokenHash: (accessToken: Redacted.Redacted<string>) => Effect.Effect<string> =
  internal.accessTokenHash

/**
 * Masks the `DPoP` header wherever `@effect/platform` shows request headers (its client spans), as
 * it masks `Authorization`: a proof can be replayed until it is too old. The token endpoint client
 * and the middleware run their requests with it; use it around requests that carry proofs of your own.
 *
 * @example
 * ```ts
 * import { DPoP } from "@access-token/core"
 * import { HttpClient, HttpClientRequest } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * // A request of your own with a proof: its http.client span shows DPoP: <redacted>.
 * const send = (url: string) =>
 *   Effect.gen(function*() {
 *     const key = yield* DPoP.generate()
 *     const proof = yield* DPoP.proof(key, { method: "POST", url })
 *     const client = yield* HttpClient.HttpClient
 *     return yield* client.execute(HttpClientRequest.post(url).pipe(HttpClientRequest.setHeader("DPoP", Redacted.value(proof))))
 *   }).pipe(DPoP.withRedactedProofs)
 * ```
 *
 * @since 0.2.0
 * @category proofs
 */
export const withRedactedProofs: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  internal.redactingProofs

/**
 * How a client uses DPoP, as a user writes it: the key (a {@link Key}, or a private JWK or PKCS#8
 * PEM as read with `Config.redacted`; generated in memory when absent), its algorithm, and whether
 * a `Bearer` token in answer to a DPoP request is accepted (default: it is an error).
 *
 * @since 0.2.0
 * @category models
 */
export interface Input {
  readonly key?: Key | Redacted.Redacted<string> | undefined
  readonly algorithm?: Algorithm | undefined
  readonly allowBearer?: boolean | undefined
}

/**
 * How a client uses DPoP, resolved: the key every proof of the client is signed with, for its
 * token requests and its API calls alike.
 *
 * @since 0.2.0
 * @category models
 */
export class Settings extends Schema.Class<Settings>("@access-token/core/DPoP/Settings")({
  key: KeyFromSelf,
  /** Accept a `Bearer` token from a token endpoint that ignored the proof, instead of failing. */
  allowBearer: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/**
 * Resolves what a user wrote: `true` means a key generated in memory.
 *
 * @example
 * ```ts
 * import { DPoP } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const settings = yield* DPoP.settings(true)
 *   assert.strictEqual(settings.key.algorithm, "ES256")
 *   assert.strictEqual(settings.allowBearer, false)
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const settings = (input: true | Input | Settings): Effect.Effect<Settings, KeyError> => {
  if (input instanceof Settings) return Effect.succeed(input)
  const options: Input = input === true ? {} : input
  const key = options.key === undefined
    ? generate(options.algorithm)
    : isKey(options.key)
    ? Effect.succeed(options.key)
    : Redacted.isRedacted(options.key)
    ? importKey(options.key, { algorithm: options.algorithm })
    : Effect.fail(new KeyError({ reason: "must be a DPoP.Key, or a Redacted private JWK or PKCS#8 PEM" }))
  return Effect.map(key, (key) => new Settings({ key, allowBearer: options.allowBearer === true }))
}

/**
 * Reads a client's DPoP settings from configuration: `DPOP_KEY` (redacted; a private JWK or a
 * PKCS#8 PEM), `DPOP` (`true` for a key generated in memory), `DPOP_ALGORITHM` and
 * `DPOP_ALLOW_BEARER`. Without `DPOP_KEY` or `DPOP=true`, the client does not use DPoP.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient } from "@access-token/core"
 * import { ConfigProvider, Effect } from "effect"
 *
 * // ClientCredentialsClient.config reads it under the client's prefix: API_DPOP=true, API_DPOP_KEY=...
 * const environment = ConfigProvider.fromMap(new Map([
 *   ["API_TOKEN_ENDPOINT", "https://auth.example.com/token"],
 *   ["API_CLIENT_ID", "m2m"],
 *   ["API_DPOP", "true"]
 * ]), { pathDelim: "_" })
 * const input = Effect.runSync(Effect.withConfigProvider(ClientCredentialsClient.config("API"), environment))
 * assert.deepStrictEqual(input.dpop, { key: undefined, algorithm: undefined, allowBearer: undefined })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const config: Config.Config<Input | undefined> = Config.map(
  Config.all({
    enabled: Config.option(Config.boolean("DPOP")),
    key: Config.option(Config.redacted("DPOP_KEY")),
    algorithm: Config.option(Config.literal(...internal.algorithms)("DPOP_ALGORITHM")),
    allowBearer: Config.option(Config.boolean("DPOP_ALLOW_BEARER"))
  }),
  ({ algorithm, allowBearer, enabled, key }): Input | undefined =>
    Option.isNone(key) && !Option.getOrElse(enabled, () => false)
      ? undefined
      : {
        key: Option.getOrUndefined(key),
        algorithm: Option.getOrUndefined(algorithm),
        allowBearer: Option.getOrUndefined(allowBearer)
      }
)
