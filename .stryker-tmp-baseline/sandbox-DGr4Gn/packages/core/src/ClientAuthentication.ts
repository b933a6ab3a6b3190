/**
 * How a client proves who it is at the token endpoint: with its secret (`client_secret_basic`,
 * `client_secret_post`), with a signed assertion (`private_key_jwt`, `client_secret_jwt`,
 * RFC 7523 §2.2 and OpenID Connect Core §9), or with its TLS client certificate (`tls_client_auth`,
 * `self_signed_tls_client_auth`, RFC 8705 §2, see `MutualTls`). A fresh assertion is signed for
 * every attempt.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as internal from "./internal/loadAuthentication.js"
import * as MutualTls from "./MutualTls.js"
import type { ClientConfigurationError } from "./TokenError.js"

/**
 * The client authentication methods of the OAuth 2.0 registry (RFC 7591 §2) that a client can use.
 *
 * @since 0.2.0
 * @category constants
 */
export const methods = [
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "tls_client_auth",
  "self_signed_tls_client_auth"
] as const

/**
 * A client authentication method of RFC 8414 `token_endpoint_auth_methods_supported`.
 *
 * @since 0.2.0
 * @category models
 */
export type Method = typeof methods[number]

/**
 * The algorithms a private key may sign with; by default the key's type decides (RSA: `RS256`,
 * EC: `ES256` / `ES384` / `ES512` by curve, Ed25519: `EdDSA`).
 *
 * @since 0.2.0
 * @category constants
 */
export const signingAlgorithms = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA"
] as const

/**
 * An algorithm a private key signs client assertions with (`private_key_jwt`).
 *
 * @since 0.2.0
 * @category models
 */
export type SigningAlgorithm = typeof signingAlgorithms[number]

/**
 * The algorithms of `client_secret_jwt`; `HS256` by default.
 *
 * @since 0.2.0
 * @category constants
 */
export const secretAlgorithms = ["HS256", "HS384", "HS512"] as const

/**
 * An algorithm a client secret signs client assertions with (`client_secret_jwt`).
 *
 * @since 0.2.0
 * @category models
 */
export type SecretAlgorithm = typeof secretAlgorithms[number]

/**
 * The `aud` of an assertion: the authorization server's issuer identifier (the default, as OpenID
 * Connect Core errata and draft-ietf-oauth-rfc7523bis require), its token endpoint URL for servers
 * still on the old rule, or any other string, sent as it is (the issuer of a server without discovery).
 *
 * @since 0.2.0
 * @category models
 */
export type Audience = "issuer" | "tokenEndpoint" | (string & {})

/**
 * A private key: a PKCS#8 PEM or a private JWK (as JSON text or as an object), kept `Redacted`,
 * or a WebCrypto `CryptoKey` that can sign.
 *
 * @since 0.2.0
 * @category models
 */
export type PrivateKey = Redacted.Redacted<string> | Redacted.Redacted<JsonWebKey> | CryptoKey

/**
 * A private key as configured.
 *
 * @since 0.2.0
 * @category models
 */
export interface SigningKeyInput {
  readonly privateKey: PrivateKey
  /** Must fit the key; by default the key's type decides (a JWK's own `alg` first). */
  readonly algorithm?: SigningAlgorithm | undefined
  /** The `kid` the server knows the key by; a JWK's own `kid` by default, else none. */
  readonly keyId?: string | undefined
  /**
   * The key's X.509 certificate (PEM, the first of a chain, holding the key's public half): its SHA-256
   * thumbprint goes in the `x5t#S256` header, as Microsoft Entra ID identifies certificate credentials.
   */
  readonly certificate?: string | undefined
  /** Also the certificate's SHA-1 thumbprint in `x5t` (AD FS, older Microsoft Entra ID). */
  readonly x5t?: boolean | undefined
}

/**
 * A private key, imported (never extractable when imported here) and checked.
 *
 * @since 0.2.0
 * @category models
 */
export interface SigningKey {
  readonly key: CryptoKey
  readonly algorithm: SigningAlgorithm
  readonly keyId: string | undefined
  readonly certificateThumbprintS256: string | undefined
  readonly certificateThumbprintSha1: string | undefined
}

/**
 * How assertions are dated and addressed.
 *
 * @since 0.2.0
 * @category models
 */
export interface AssertionOptions {
  /** Default `"issuer"`; `"tokenEndpoint"`, or the audience itself (any other string, sent as it is). */
  readonly audience?: Audience | undefined
  /** How long an assertion is valid; default {@link defaultAssertionLifetime}. */
  readonly lifetime?: Duration.DurationInput | undefined
  /** How far back `iat` and `nbf` are dated; default {@link defaultClockSkew}. */
  readonly clockSkew?: Duration.DurationInput | undefined
}

/**
 * A client's authentication as a user writes it. The secret methods use the client's
 * `clientSecret`.
 *
 * @since 0.2.0
 * @category models
 */
export type Input =
  | { readonly method: "client_secret_basic" }
  | { readonly method: "client_secret_post" }
  | ({ readonly method: "client_secret_jwt"; readonly algorithm?: SecretAlgorithm | undefined } & AssertionOptions)
  | ({ readonly method: "private_key_jwt" } & SigningKeyInput & AssertionOptions)
  | ({ readonly method: "tls_client_auth" | "self_signed_tls_client_auth" } & MutualTls.CertificateInput)

/**
 * How long an assertion is valid unless configured: 60 s.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultAssertionLifetime: Duration.Duration = Duration.seconds(60)

/**
 * How far back an assertion's `iat` and `nbf` are dated unless configured: 5 s, so that a server
 * whose clock is a little behind does not refuse an assertion from its future.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultClockSkew: Duration.Duration = Duration.seconds(5)

/**
 * The longest an assertion may be valid, its clock-skew allowance included: one hour, Google's
 * limit, and longer than any server needs.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxAssertionLifetime: Duration.Duration = Duration.hours(1)

/**
 * The dating and addressing of a client's assertions, validated.
 *
 * @since 0.2.0
 * @category models
 */
export interface AssertionSettings {
  readonly audience: Audience
  readonly lifetime: Duration.Duration
  readonly clockSkew: Duration.Duration
}

/**
 * `client_secret_basic` (RFC 6749 §2.3.1): the client id and secret in the `Authorization` header.
 *
 * @since 0.2.0
 * @category models
 */
export class ClientSecretBasic extends Data.TaggedClass("ClientSecretBasic")<{}> {
  /**
   * @since 0.2.0
   */
  readonly method = "client_secret_basic" as const
}

/**
 * `client_secret_post` (RFC 6749 §2.3.1): the client id and secret in the form.
 *
 * @since 0.2.0
 * @category models
 */
export class ClientSecretPost extends Data.TaggedClass("ClientSecretPost")<{}> {
  /**
   * @since 0.2.0
   */
  readonly method = "client_secret_post" as const
}

/**
 * `client_secret_jwt`: an assertion signed with an HMAC of the client secret, which never travels.
 *
 * @since 0.2.0
 * @category models
 */
export class ClientSecretJwt extends Data.TaggedClass("ClientSecretJwt")<{
  readonly algorithm: SecretAlgorithm
  readonly assertion: AssertionSettings
}> {
  /**
   * @since 0.2.0
   */
  readonly method = "client_secret_jwt" as const
}

/**
 * `private_key_jwt`: an assertion signed with the client's private key, whose public key the server
 * has registered.
 *
 * @since 0.2.0
 * @category models
 */
export class PrivateKeyJwt extends Data.TaggedClass("PrivateKeyJwt")<{
  readonly signingKey: SigningKey
  readonly assertion: AssertionSettings
}> {
  /**
   * @since 0.2.0
   */
  readonly method = "private_key_jwt" as const
}

/**
 * A client's authentication, ready to use: keys imported and checked.
 *
 * @since 0.2.0
 * @category models
 */
export type ClientAuthentication =
  | ClientSecretBasic
  | ClientSecretPost
  | ClientSecretJwt
  | PrivateKeyJwt
  | MutualTls.TlsClientAuth
  | MutualTls.SelfSignedTlsClientAuth

/**
 * Whether a value is a checked client authentication, as `make` returns.
 *
 * @since 0.2.0
 * @category refinements
 */
export const isClientAuthentication = (u: unknown): u is ClientAuthentication =>
  u instanceof ClientSecretBasic || u instanceof ClientSecretPost || u instanceof ClientSecretJwt ||
  u instanceof PrivateKeyJwt || u instanceof MutualTls.TlsClientAuth || u instanceof MutualTls.SelfSignedTlsClientAuth

/**
 * The schema of a loaded client authentication, for the field of a client definition.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClientAuthenticationFromSelf: Schema.Schema<ClientAuthentication> = Schema.declare(
  isClientAuthentication,
  {
    identifier: "ClientAuthentication",
    message: () => "must be made by ClientAuthentication.make"
  }
)

/**
 * Validates how assertions are dated and addressed: a positive lifetime, a skew allowance of at
 * least zero, together at most {@link maxAssertionLifetime}.
 *
 * @example
 * ```ts
 * import { ClientAuthentication } from "@access-token/core"
 * import { Duration, Effect, Either } from "effect"
 *
 * const settings = Effect.runSync(ClientAuthentication.assertionSettings("api", "authentication", { lifetime: "2 minutes" }))
 * assert.strictEqual(settings.audience, "issuer")
 * assert.ok(Duration.equals(settings.lifetime, Duration.minutes(2)))
 *
 * // More than an hour of validity is refused, naming the field.
 * const tooLong = Effect.runSync(Effect.either(ClientAuthentication.assertionSettings("api", "authentication", { lifetime: "2 hours" })))
 * assert.ok(Either.isLeft(tooLong) && tooLong.left.field === "authentication.lifetime")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const assertionSettings = (
  client: string,
  field: string,
  options: AssertionOptions,
  defaults?: { readonly audience?: Audience | undefined }
): Effect.Effect<AssertionSettings, ClientConfigurationError> =>
  internal.assertionSettings(client, field, options, defaults)

/**
 * Loads a client's authentication: imports and checks its key, validates its settings. A key that
 * cannot be read or an algorithm that does not fit it fails with `ClientConfigurationError`
 * naming the client and the field, never quoting the key.
 *
 * @example
 * ```ts
 * import { ClientAuthentication, TokenService } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * // A client's layer with its key, imported and checked once; a fresh assertion is signed for every attempt.
 * const program = Effect.gen(function*() {
 *   const { privateKey } = yield* Effect.promise(() => crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]))
 *   const authentication = yield* ClientAuthentication.make({ method: "private_key_jwt", privateKey, keyId: "2026-01" }, "api")
 *   return TokenService.layerDefault({
 *     clients: { api: { tokenEndpoint: "https://login.example.com/oauth2/token", clientId: "m2m", authentication } }
 *   })
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  input: Input | ClientAuthentication,
  client: string
): Effect.Effect<ClientAuthentication, ClientConfigurationError> => internal.make(input, client)

/**
 * Reads a client's authentication from configuration (nest it under the client's prefix):
 * `TOKEN_ENDPOINT_AUTH_METHOD` (one of {@link methods}; `private_key_jwt` when only a private key is
 * set), `PRIVATE_KEY` (redacted: a PKCS#8 PEM or a private JWK as JSON), `PRIVATE_KEY_ID` (the
 * `kid`), `SIGNING_ALGORITHM`, `CERTIFICATE` (PEM, for `x5t#S256`), `CERTIFICATE_X5T` (`true` adds
 * `x5t`), `ASSERTION_AUDIENCE` (`issuer`, `token_endpoint` or the audience itself),
 * `ASSERTION_LIFETIME` (a duration). `None` when no method is configured, so that a client with a
 * secret keeps its credential style.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenService } from "@access-token/core"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * // API_TOKEN_ENDPOINT=https://login.example.com/oauth2/token API_CLIENT_ID=m2m API_ASSERTION_AUDIENCE=token_endpoint
 * // API_TOKEN_ENDPOINT_AUTH_METHOD=private_key_jwt API_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----..."
 * // ClientCredentialsClient.config reads these (and the secret methods') under the client's prefix.
 * const Tokens = TokenService.layerConfigDefault({ clients: { api: ClientCredentialsClient.config("API") } })
 *   .pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const config: Config.Config<Option.Option<Input>> = Config.all({
  method: Config.option(Config.literal(...methods)("TOKEN_ENDPOINT_AUTH_METHOD")),
  privateKey: Config.option(Config.redacted("PRIVATE_KEY")),
  keyId: Config.option(Config.string("PRIVATE_KEY_ID")),
  algorithm: Config.option(Config.literal(...signingAlgorithms, ...secretAlgorithms)("SIGNING_ALGORITHM")),
  certificate: Config.option(Config.string("CERTIFICATE")),
  x5t: Config.option(Config.boolean("CERTIFICATE_X5T")),
  audience: Config.option(Config.string("ASSERTION_AUDIENCE")),
  lifetime: Config.option(Config.duration("ASSERTION_LIFETIME"))
}).pipe(Config.mapOrFail((fields) => internal.fromConfig(fields)))
