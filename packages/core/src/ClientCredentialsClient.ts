/**
 * The definition of one client of a token service: where it asks for tokens, how it
 * authenticates, and what it asks for.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as ClientAuthentication from "./ClientAuthentication.js"
import * as DPoP from "./DPoP.js"
import * as internal from "./internal/clientConfig.js"
import { firstIssue, inWordsOf, say, type Source, sourceOf } from "./internal/configNames.js"
import { issuerOfUrl } from "./internal/discovery.js"
import { refusePrototypeParameter, reservedParameters } from "./internal/form.js"
import { checkAuthentication } from "./internal/loadAuthentication.js"
import { checkTransport } from "./internal/transport.js"
import * as JwtBearerGrant from "./JwtBearerGrant.js"
import { ClientConfigurationError } from "./TokenError.js"

const parseUrl = (s: string): URL | undefined => URL.canParse(s) ? new URL(s) : undefined

/**
 * An absolute `http` or `https` URL with no fragment.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenEndpointUrl = Schema.String.pipe(
  Schema.filter((s) => {
    const url = parseUrl(s)
    return url !== undefined && (url.protocol === "https:" || url.protocol === "http:") && url.hash === "" &&
      url.username === "" && url.password === ""
  }, {
    message: () => "must be an absolute http(s) URL without credentials or fragment"
  })
)

/** RFC 6749 §3.3: scope tokens of `%x21 / %x23-5B / %x5D-7E`, separated by single spaces. */
const scopeSyntax = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/

/**
 * An issuer identifier (RFC 8414 §2): an absolute `http` or `https` URL with no query, fragment or
 * credentials. It is compared character for character with the `issuer` of its metadata.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Issuer = Schema.String.pipe(
  Schema.filter((s) => {
    const url = parseUrl(s)
    return url !== undefined && (url.protocol === "https:" || url.protocol === "http:") && url.search === "" &&
      url.hash === "" && !s.includes("?") && !s.includes("#") && url.username === "" && url.password === ""
  }, {
    message: () => "must be an absolute http(s) URL without query, fragment or credentials (RFC 8414 §2)"
  })
)

/**
 * A space-separated list of scope tokens (RFC 6749 §3.3).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Scope = Schema.String.pipe(
  Schema.filter((s) => scopeSyntax.test(s), {
    message: () => "must be scope tokens separated by single spaces (RFC 6749 §3.3)"
  })
)

/**
 * A resource indicator (RFC 8707 §2): an absolute URI without a fragment.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ResourceIndicator = Schema.String.pipe(
  Schema.filter((s) => {
    const url = parseUrl(s)
    return url !== undefined && url.hash === "" && !s.includes("#")
  }, {
    message: () => "must be an absolute URI without a fragment (RFC 8707)"
  })
)

/**
 * Extra form parameters; none may override the grant, the client's identity or credentials.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Parameters = Schema.Record({ key: Schema.String, value: Schema.String }).pipe(
  Schema.filter((parameters) => {
    const reserved = Object.keys(parameters).filter((name) => reservedParameters.has(name))
    return reserved.length === 0 ? true : `may not set ${reserved.join(", ")}: use the client's own fields`
  })
)

/**
 * How the client authenticates at the token endpoint: `"header"` is RFC 6749 `client_secret_basic`
 * (the default), `"body"` is `client_secret_post`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CredentialStyle = Schema.Literal("header", "body")

/**
 * @since 0.1.0
 * @category models
 */
export type CredentialStyle = typeof CredentialStyle.Type

/**
 * One client of a token service. A client without a secret or another authentication is a public
 * client: it sends only its id (`make` requires it declared, with `authentication: "none"`).
 *
 * @since 0.1.0
 * @category models
 */
export class ClientCredentialsClient
  extends Schema.Class<ClientCredentialsClient>("@access-token/core/ClientCredentialsClient")({
    /** The name the client is registered under; used in logs, spans and errors. */
    name: Schema.String,
    /**
     * The token endpoint, `https` unless on loopback or `allowInsecureTransport` is set; absent when
     * the client is configured by `issuer`.
     */
    tokenEndpoint: Schema.optional(TokenEndpointUrl),
    /**
     * The authorization server's issuer identifier, in place of `tokenEndpoint`: the token endpoint
     * is then found in the issuer's metadata (RFC 8414, OpenID Connect Discovery).
     */
    issuer: Schema.optional(Issuer),
    clientId: Schema.NonEmptyString,
    clientSecret: Schema.optional(
      Schema.RedactedFromSelf(Schema.String).annotations({
        message: () => "must be a Redacted string (Redacted.make or Config.redacted)"
      })
    ),
    credentialStyle: Schema.optionalWith(CredentialStyle, { default: () => "header" as const }),
    /** How the client authenticates; without it, `clientSecret` and `credentialStyle` decide. */
    authentication: Schema.optional(ClientAuthentication.ClientAuthenticationFromSelf),
    /** The JWT bearer grant (RFC 7523 §2.1) in place of the client credentials grant. */
    grant: Schema.optional(JwtBearerGrant.JwtBearerGrantFromSelf),
    scope: Schema.optional(Scope),
    resource: Schema.optional(Schema.Array(ResourceIndicator)),
    parameters: Schema.optional(Parameters),
    /** Allows a plain `http` token endpoint off loopback, where the secret travels in clear. */
    allowInsecureTransport: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    /** How long before its expiry a token counts as expired; `TokenService` has the default. */
    expirationBuffer: Schema.optional(Schema.DurationFromSelf),
    /** How long a token sent without `expires_in` is kept; `TokenService` has the default. */
    defaultLifetime: Schema.optional(Schema.DurationFromSelf),
    /** DPoP (RFC 9449): the key the client's tokens are bound to, and whether a Bearer answer is accepted. */
    dpop: Schema.optional(DPoP.Settings)
  })
{}

/**
 * What a user writes to define a client; `name` defaults to the name it is registered under, or
 * to the client id, and `resource` may be one indicator or several.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly name?: string | undefined
  /** Required, unless a service-account key file (`grant.serviceAccountKey`) gives it. */
  readonly tokenEndpoint?: string | URL | undefined
  /**
   * The issuer, in place of `tokenEndpoint` (give one of the two): the token endpoint is found in its
   * metadata, which `TokenService` retrieves once and keeps fresh. A `URL` is its `href` without the
   * `/` the parser adds to a root path: `new URL("https://login.example.com")` is `https://login.example.com`.
   */
  readonly issuer?: string | URL | undefined
  /** Required, unless a service-account key file (`grant.serviceAccountKey`) gives it. */
  readonly clientId?: string | undefined
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  readonly credentialStyle?: CredentialStyle | undefined
  /** A method (see `ClientAuthentication.Input`), or `"none"`: a public client, which sends its id alone. */
  readonly authentication?: ClientAuthentication.Input | ClientAuthentication.ClientAuthentication | "none" | undefined
  /** The JWT bearer grant: a key of its own, or a service-account key file (see `JwtBearerGrant.Input`). */
  readonly grant?: JwtBearerGrant.Input | JwtBearerGrant.JwtBearerGrant | undefined
  readonly scope?: string | undefined
  readonly resource?: string | ReadonlyArray<string> | undefined
  readonly parameters?: Readonly<Record<string, string>> | undefined
  readonly allowInsecureTransport?: boolean | undefined
  readonly expirationBuffer?: Duration.DurationInput | undefined
  readonly defaultLifetime?: Duration.DurationInput | undefined
  /** DPoP-bound tokens: `true` for a key generated in memory, or the key to use (see `DPoP.Input`). */
  readonly dpop?: boolean | DPoP.Input | DPoP.Settings | undefined
}

const decodeClient = Schema.decodeUnknownEither(ClientCredentialsClient)

/**
 * Validates a definition, naming the client and the first field at fault.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient } from "@access-token/core"
 * import { Effect, Either, Redacted } from "effect"
 *
 * const client = Effect.runSync(
 *   ClientCredentialsClient.make({
 *     tokenEndpoint: "https://auth.example.com/token",
 *     clientId: "m2m",
 *     clientSecret: Redacted.make("secret"),
 *     resource: "https://api.example.com"
 *   }, "api")
 * )
 * assert.strictEqual(client.name, "api")
 * assert.deepStrictEqual(client.resource, ["https://api.example.com"])
 *
 * // A plain http token endpoint off loopback would send the secret in clear: refused.
 * const insecure = Effect.runSync(Effect.either(
 *   ClientCredentialsClient.make({ tokenEndpoint: "http://auth.example.com/token", clientId: "m2m" }, "api")
 * ))
 * assert.ok(Either.isLeft(insecure) && insecure.left.field === "tokenEndpoint")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: Input,
  name?: string
): Effect.Effect<ClientCredentialsClient, ClientConfigurationError> => {
  const source = sourceOf(input)
  const empty = source?.empty[0]
  return (empty === undefined
    ? define(input, name, false, source)
    : Effect.fail(
      new ClientConfigurationError({ client: name ?? input.name ?? "(unnamed)", field: empty, reason: "is empty" })
    )).pipe(Effect.mapError(inWordsOf(input)))
}

const define = (
  input: Input,
  name: string | undefined,
  declaredPublic: boolean,
  source: Source | undefined
): Effect.Effect<ClientCredentialsClient, ClientConfigurationError> => {
  const clientName = name ?? input.name ?? input.clientId ?? "(unnamed)"
  if (input.name !== undefined && name !== undefined && input.name !== name) {
    return Effect.fail(
      new ClientConfigurationError({
        client: clientName,
        field: "name",
        reason: `is "${input.name}" but the client is registered as "${name}"`
      })
    )
  }
  if (input.dpop !== undefined && !(input.dpop instanceof DPoP.Settings)) {
    // The key is imported (or generated) once, here, so that a bad key fails when the service is built.
    return input.dpop === false ?
      define({ ...input, dpop: undefined }, name, declaredPublic, source) :
      DPoP.settings(input.dpop).pipe(
        Effect.mapError((error) =>
          new ClientConfigurationError({ client: clientName, field: "dpop.key", reason: error.reason })
        ),
        Effect.flatMap((dpop) => define({ ...input, dpop }, name, declaredPublic, source))
      )
  }
  if (input.grant !== undefined && !JwtBearerGrant.isJwtBearerGrant(input.grant)) {
    // The grant's key is imported and checked once, here, so that a bad key fails when the service is
    // built; a service-account key file also gives the client id and the token endpoint.
    return JwtBearerGrant.make(input.grant, clientName, input.clientId).pipe(
      Effect.flatMap((loaded) =>
        define(
          {
            ...input,
            clientId: input.clientId ?? loaded.clientId,
            tokenEndpoint: input.tokenEndpoint ?? loaded.tokenEndpoint,
            grant: loaded.grant
          },
          name,
          declaredPublic,
          source
        )
      )
    )
  }
  if (input.authentication === "none") {
    return input.clientSecret === undefined
      ? define({ ...input, authentication: undefined }, name, true, source)
      : Effect.fail(
        new ClientConfigurationError({
          client: clientName,
          field: "clientSecret",
          reason: `is set, but ${say(source, "AUTHENTICATION=none", `authentication: "none"`)} declares a public ` +
            "client: remove one"
        })
      )
  }
  if (input.authentication !== undefined && !ClientAuthentication.isClientAuthentication(input.authentication)) {
    return ClientAuthentication.make(input.authentication, clientName).pipe(
      Effect.flatMap((authentication) => define({ ...input, authentication }, name, declaredPublic, source))
    )
  }
  const misfit = checkAuthentication(input, clientName, source) ??
    refusePrototypeParameter(clientName, input.parameters)
  if (misfit !== undefined) return Effect.fail(misfit)
  const duration = (value: Duration.DurationInput | undefined) =>
    value === undefined ? undefined : Option.getOrElse(Duration.decodeUnknown(value), () => value)
  const decoded = decodeClient({
    ...input,
    name: clientName,
    tokenEndpoint: input.tokenEndpoint instanceof URL ? input.tokenEndpoint.href : input.tokenEndpoint,
    issuer: input.issuer instanceof URL ? issuerOfUrl(input.issuer) : input.issuer,
    resource: typeof input.resource === "string" ? [input.resource] : input.resource,
    expirationBuffer: duration(input.expirationBuffer),
    defaultLifetime: duration(input.defaultLifetime)
  })
  if (Either.isLeft(decoded)) {
    return Effect.fail(new ClientConfigurationError({ client: clientName, ...firstIssue(decoded.left, input) }))
  }
  const { issuer, tokenEndpoint } = decoded.right
  if ((issuer === undefined) === (tokenEndpoint === undefined)) {
    return Effect.fail(
      new ClientConfigurationError({
        client: clientName,
        field: issuer === undefined ? "tokenEndpoint" : "issuer",
        reason: issuer === undefined
          ? `is required, or ${
            say(source, "ISSUER", "give issuer", "set ")
          } to find the token endpoint in the issuer's metadata`
          : source === undefined
          ? "and tokenEndpoint are both given: give one, the issuer's metadata names the token endpoint"
          : `and ${
            say(source, "TOKEN_ENDPOINT", "")
          } are both set: set one, the issuer's metadata names the token endpoint`
      })
    )
  }
  const client = decoded.right
  const insecure = checkTransport(client)
  if (Either.isLeft(insecure)) return Effect.fail(insecure.left)
  if (!declaredPublic && !client.clientSecret && !client.authentication && !client.grant) {
    // A secret missing (or its variable misspelled) would otherwise make a public client, whose only
    // symptom is the server's `invalid_client`.
    return Effect.fail(
      new ClientConfigurationError({
        client: clientName,
        field: "clientSecret",
        reason: `is required: set it, or set ${
          say(source, "AUTHENTICATION=none", `authentication: "none"`)
        } for a public client`
      })
    )
  }
  return Effect.succeed(client)
}

/**
 * Reads a client from configuration under `prefix`, e.g. `config("IDENTITYSERVER")` reads
 * `IDENTITYSERVER_TOKEN_ENDPOINT` or `IDENTITYSERVER_ISSUER` (one of the two, the token endpoint
 * then found in the issuer's metadata), `IDENTITYSERVER_CLIENT_ID`, `IDENTITYSERVER_CLIENT_SECRET`
 * (redacted), and the optional `IDENTITYSERVER_SCOPE`, `IDENTITYSERVER_RESOURCE` (indicators
 * separated by spaces or commas), `IDENTITYSERVER_CREDENTIAL_STYLE` (`header` or `body`),
 * `IDENTITYSERVER_ALLOW_INSECURE_TRANSPORT`, `IDENTITYSERVER_EXPIRATION_BUFFER` and
 * `IDENTITYSERVER_DEFAULT_LIFETIME` (durations such as `30 seconds`), and DPoP's
 * `IDENTITYSERVER_DPOP_KEY` (redacted private JWK or PKCS#8 PEM) or `IDENTITYSERVER_DPOP=true` (a key
 * generated in memory), `IDENTITYSERVER_DPOP_ALGORITHM` and `IDENTITYSERVER_DPOP_ALLOW_BEARER`. The
 * result is validated when the token service is built. Client authentication (see `ClientAuthentication.config`):
 * `IDENTITYSERVER_TOKEN_ENDPOINT_AUTH_METHOD`, `IDENTITYSERVER_PRIVATE_KEY` (redacted PEM or JWK; alone it means
 * `private_key_jwt`), `IDENTITYSERVER_PRIVATE_KEY_ID`, `IDENTITYSERVER_SIGNING_ALGORITHM`, `IDENTITYSERVER_CERTIFICATE`,
 * `IDENTITYSERVER_ASSERTION_AUDIENCE`, `IDENTITYSERVER_ASSERTION_LIFETIME`. The JWT bearer grant:
 * `IDENTITYSERVER_SERVICE_ACCOUNT_KEY` (a service-account key file's content, redacted, which also gives the client id
 * and token endpoint), or `IDENTITYSERVER_GRANT_TYPE=urn:ietf:params:oauth:grant-type:jwt-bearer` with
 * `IDENTITYSERVER_PRIVATE_KEY` and its companions for the grant's key. `IDENTITYSERVER_AUTHENTICATION=none`: a public client.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient } from "@access-token/core"
 * import { ConfigProvider, Effect, Redacted } from "effect"
 *
 * const environment = ConfigProvider.fromMap(new Map([
 *   ["BILLING_TOKEN_ENDPOINT", "https://auth.example.com/token"],
 *   ["BILLING_CLIENT_ID", "billing"],
 *   ["BILLING_CLIENT_SECRET", "s3cr3t"],
 *   ["BILLING_SCOPE", "invoices:read"]
 * ]), { pathDelim: "_" })
 * const input = Effect.runSync(Effect.withConfigProvider(ClientCredentialsClient.config("BILLING"), environment))
 *
 * assert.strictEqual(input.clientId, "billing")
 * assert.strictEqual(input.scope, "invoices:read")
 * // Read redacted: never in a log.
 * assert.ok(input.clientSecret !== undefined && Redacted.isRedacted(input.clientSecret))
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix?: string): Config.Config<Input> => internal.config(prefix)
