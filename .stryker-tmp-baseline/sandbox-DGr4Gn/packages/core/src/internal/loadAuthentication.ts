// @ts-nocheck
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ClientAuthentication from "../ClientAuthentication.js"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import * as JwtBearerGrant from "../JwtBearerGrant.js"
import * as MutualTls from "../MutualTls.js"
import { ClientConfigurationError } from "../TokenError.js"
import { loadSigningKey } from "./clientAssertion.js"
import { type Source, variable } from "./configNames.js"
import { unescapePem } from "./privateKey.js"

/**
 * A client's authentication as written (in code or in the environment) made ready to use: settings
 * validated, keys imported and checked. The public module declares these; they live here so that it
 * reads as the concept's definition.
 */

const durationOf = (value: Duration.DurationInput | undefined, fallback: Duration.Duration) =>
  value === undefined ? Option.some(fallback) : Duration.decodeUnknown(value)

/** Whether an audience reads like a keyword misspelt (`token-endpoint`, `Issuer`): surely not meant as the audience. */
const keywordLike = (audience: string): boolean => {
  const bare = audience.toLowerCase().replace(/[^a-z]/g, "")
  return bare === "issuer" || bare === "tokenendpoint"
}

/** See `ClientAuthentication.assertionSettings`. */
export const assertionSettings = (
  client: string,
  field: string,
  options: ClientAuthentication.AssertionOptions,
  defaults?: { readonly audience?: ClientAuthentication.Audience | undefined }
): Effect.Effect<ClientAuthentication.AssertionSettings, ClientConfigurationError> => {
  const fail = (name: string, reason: string) =>
    Effect.fail(new ClientConfigurationError({ client, field: `${field}.${name}`, reason }))
  const audience = options.audience ?? defaults?.audience ?? "issuer"
  if (typeof audience !== "string") return fail("audience", "must be issuer, tokenEndpoint or the audience itself")
  if (audience === "") return fail("audience", "must not be empty: give issuer, tokenEndpoint or the audience itself")
  if (audience !== "issuer" && audience !== "tokenEndpoint" && keywordLike(audience)) {
    return fail(
      "audience",
      "reads like a misspelt issuer or tokenEndpoint: write the keyword exactly, or give the audience itself"
    )
  }
  const lifetime = durationOf(options.lifetime, ClientAuthentication.defaultAssertionLifetime)
  const clockSkew = durationOf(options.clockSkew, ClientAuthentication.defaultClockSkew)
  if (Option.isNone(lifetime) || Duration.toMillis(lifetime.value) < 1000) {
    return fail("lifetime", "must be a duration of at least one second")
  }
  if (Option.isNone(clockSkew) || !Duration.isFinite(clockSkew.value)) {
    return fail("clockSkew", "must be a finite duration")
  }
  const max = ClientAuthentication.maxAssertionLifetime
  if (Duration.greaterThan(Duration.sum(lifetime.value, clockSkew.value), max)) {
    return fail("lifetime", `together with clockSkew must not exceed ${Duration.format(max)}`)
  }
  return Effect.succeed({ audience, lifetime: lifetime.value, clockSkew: clockSkew.value })
}

const isSecretAlgorithm = (algorithm: string): algorithm is ClientAuthentication.SecretAlgorithm =>
  (ClientAuthentication.secretAlgorithms as ReadonlyArray<string>).includes(algorithm)

/** See `ClientAuthentication.make`. */
export const make = (
  input: ClientAuthentication.Input | ClientAuthentication.ClientAuthentication,
  client: string
): Effect.Effect<ClientAuthentication.ClientAuthentication, ClientConfigurationError> => {
  if (ClientAuthentication.isClientAuthentication(input)) return Effect.succeed(input)
  const field = "authentication"
  switch (input?.method) {
    case "client_secret_basic":
      return Effect.succeed(new ClientAuthentication.ClientSecretBasic())
    case "client_secret_post":
      return Effect.succeed(new ClientAuthentication.ClientSecretPost())
    case "client_secret_jwt": {
      const algorithm = input.algorithm ?? "HS256"
      if (!isSecretAlgorithm(algorithm)) {
        return Effect.fail(
          new ClientConfigurationError({ client, field: `${field}.algorithm`, reason: "must be HS256, HS384 or HS512" })
        )
      }
      return Effect.map(
        assertionSettings(client, field, input),
        (assertion) => new ClientAuthentication.ClientSecretJwt({ algorithm, assertion })
      )
    }
    case "private_key_jwt":
      return Effect.zipWith(
        loadSigningKey(client, field, input),
        assertionSettings(client, field, input),
        (signingKey, assertion) => new ClientAuthentication.PrivateKeyJwt({ signingKey, assertion })
      )
    case "tls_client_auth":
      return Effect.map(
        MutualTls.clientCertificate(input, client, field),
        (certificate) => new MutualTls.TlsClientAuth({ certificate })
      )
    case "self_signed_tls_client_auth":
      return Effect.map(
        MutualTls.clientCertificate(input, client, field),
        (certificate) => new MutualTls.SelfSignedTlsClientAuth({ certificate })
      )
    default:
      return Effect.fail(
        new ClientConfigurationError({
          client,
          field: `${field}.method`,
          reason: `must be one of ${ClientAuthentication.methods.join(", ")}`
        })
      )
  }
}

/** What `ClientAuthentication.config` reads, before it is made into an input. */
export interface ConfigFields {
  readonly method: Option.Option<ClientAuthentication.Method>
  readonly privateKey: Option.Option<Redacted.Redacted<string>>
  readonly keyId: Option.Option<string>
  readonly algorithm: Option.Option<ClientAuthentication.SigningAlgorithm | ClientAuthentication.SecretAlgorithm>
  readonly certificate: Option.Option<string>
  readonly x5t: Option.Option<boolean>
  readonly audience: Option.Option<string>
  readonly lifetime: Option.Option<Duration.Duration>
}

/**
 * The input the configuration describes: `None` when no method is configured (a private key alone
 * means `private_key_jwt`), so that a client with a secret keeps its credential style.
 */
export const fromConfig = (
  fields: ConfigFields
): Either.Either<Option.Option<ClientAuthentication.Input>, ConfigError.ConfigError> => {
  const method = Option.orElse(fields.method, () => Option.as(fields.privateKey, "private_key_jwt" as const))
  const invalid = (path: string, reason: string) => Either.left(ConfigError.InvalidData([path], reason))
  // The environment spells the keywords issuer and token_endpoint; any other value is the audience itself.
  const audience = Option.getOrUndefined(fields.audience)
  if (audience !== undefined && audience !== "issuer" && audience !== "token_endpoint" && keywordLike(audience)) {
    return invalid(
      "ASSERTION_AUDIENCE",
      "reads like a misspelt issuer or token_endpoint: write the keyword exactly, or give the audience itself"
    )
  }
  const assertion: ClientAuthentication.AssertionOptions = {
    audience: audience === "token_endpoint" ? "tokenEndpoint" : audience,
    lifetime: Option.getOrUndefined(fields.lifetime)
  }
  const algorithm = Option.getOrUndefined(fields.algorithm)
  if (Option.isNone(method)) return Either.right(Option.none())
  switch (method.value) {
    case "client_secret_basic":
    case "client_secret_post":
      return Either.right(Option.some({ method: method.value }))
    case "client_secret_jwt":
      return algorithm === undefined || isSecretAlgorithm(algorithm)
        ? Either.right(Option.some({ method: method.value, algorithm, ...assertion }))
        : invalid("SIGNING_ALGORITHM", "client_secret_jwt signs with HS256, HS384 or HS512")
    case "private_key_jwt":
      if (Option.isNone(fields.privateKey)) return invalid("PRIVATE_KEY", "private_key_jwt needs a private key")
      if (algorithm !== undefined && isSecretAlgorithm(algorithm)) {
        return invalid("SIGNING_ALGORITHM", "private_key_jwt signs with a private key, not with HS256/384/512")
      }
      return Either.right(Option.some<ClientAuthentication.Input>({
        method: method.value,
        privateKey: fields.privateKey.value,
        algorithm,
        keyId: Option.getOrUndefined(fields.keyId),
        certificate: Option.getOrUndefined(fields.certificate),
        x5t: Option.getOrUndefined(fields.x5t),
        ...assertion
      }))
    case "tls_client_auth":
    case "self_signed_tls_client_auth":
      if (Option.isNone(fields.certificate)) return invalid("CERTIFICATE", `${method.value} needs a certificate`)
      if (Option.isNone(fields.privateKey)) return invalid("PRIVATE_KEY", `${method.value} needs its private key`)
      // The transport is given these PEMs as they are: one kept on one line is unescaped here.
      return Either.right(Option.some<ClientAuthentication.Input>({
        method: method.value,
        certificate: Redacted.make(unescapePem(fields.certificate.value.trim())),
        privateKey: Redacted.make(unescapePem(Redacted.value(fields.privateKey.value).trim()))
      }))
  }
}

const unknownIssuer = (source: Source | undefined) =>
  source === undefined
    ? "is the issuer, which this client does not know: configure the client by its issuer (its metadata gives the " +
      "token endpoint), or set audience to tokenEndpoint for a server that expects its token endpoint, or to the " +
      "audience itself (the issuer's identifier, say)"
    : `is issuer (its default), which this client does not know: set ${
      variable(source.prefix, "ISSUER")
    } to configure the client by its issuer (its metadata gives the token endpoint), or ${
      variable(source.prefix, "ASSERTION_AUDIENCE")
    }=token_endpoint for a server that expects its token endpoint, or to the audience itself (the issuer's ` +
      "identifier, say)"

/**
 * A method and the fields it needs: a secret method needs the secret, a key method has no use for
 * one, and an assertion addressed to the issuer needs the issuer.
 */
export const checkAuthentication = (
  input: ClientCredentialsClient.Input,
  client: string,
  source?: Source
): ClientConfigurationError | undefined => {
  const authentication = ClientAuthentication.isClientAuthentication(input.authentication)
    ? input.authentication
    : undefined
  const method = authentication?.method
  const misfit = (field: string, reason: string) => new ClientConfigurationError({ client, field, reason })
  if (input.issuer === undefined) {
    if (JwtBearerGrant.isJwtBearerGrant(input.grant) && input.grant.assertion.audience === "issuer") {
      return misfit("grant.audience", unknownIssuer(source))
    }
    if (
      (authentication?._tag === "PrivateKeyJwt" || authentication?._tag === "ClientSecretJwt") &&
      authentication.assertion.audience === "issuer"
    ) {
      return misfit("authentication.audience", unknownIssuer(source))
    }
  }
  if (method === undefined) return undefined
  if (input.credentialStyle !== undefined) {
    return misfit("credentialStyle", `cannot be set together with authentication (${method}): choose one`)
  }
  if (method === "private_key_jwt" || method === "tls_client_auth" || method === "self_signed_tls_client_auth") {
    return input.clientSecret === undefined
      ? undefined
      : misfit("clientSecret", `is not used by ${method}: remove it, so that no unused secret is kept`)
  }
  return input.clientSecret === undefined ? misfit("clientSecret", `is required by ${method}`) : undefined
}

/**
 * The grant and the authentication read from configuration: a service-account key file gives the
 * client id (otherwise required) and the grant's key; with `GRANT_TYPE` set to the JWT bearer grant,
 * `PRIVATE_KEY` and its companions sign the grant's assertion, and a secret (if any) authenticates
 * the client.
 */
export const grantAndAuthentication = (fields: {
  readonly clientId: Option.Option<string>
  readonly authentication: Option.Option<ClientAuthentication.Input>
  readonly grantType: Option.Option<string>
  readonly serviceAccountKey: Option.Option<Redacted.Redacted<string>>
}, prefix: string | undefined): Either.Either<
  Pick<ClientCredentialsClient.Input, "authentication" | "grant">,
  ConfigError.ConfigError
> => {
  const authentication = Option.getOrUndefined(fields.authentication)
  const name = (key: string) => variable(prefix, key)
  if (Option.isSome(fields.serviceAccountKey)) {
    return authentication?.method === "private_key_jwt"
      ? Either.left(
        ConfigError.InvalidData(
          ["PRIVATE_KEY"],
          `${name("SERVICE_ACCOUNT_KEY")} holds the private key: remove ${name("PRIVATE_KEY")}`
        )
      )
      : Either.right({ authentication, grant: { serviceAccountKey: fields.serviceAccountKey.value } })
  }
  if (Option.getOrUndefined(fields.grantType) !== JwtBearerGrant.grantType) {
    // Only when set, so that a client without it reads exactly as before.
    return Either.right(authentication === undefined ? {} : { authentication })
  }
  if (authentication === undefined) {
    return Either.left(
      ConfigError.MissingData(
        ["PRIVATE_KEY"],
        `${name("GRANT_TYPE")} is the JWT bearer grant, which needs ${name("PRIVATE_KEY")}: the key that signs its ` +
          "assertions"
      )
    )
  }
  if (authentication.method !== "private_key_jwt") {
    return Either.left(
      ConfigError.InvalidData(
        ["TOKEN_ENDPOINT_AUTH_METHOD"],
        `with the JWT bearer grant, ${name("PRIVATE_KEY")} signs the grant's assertions: authenticate the client ` +
          `with ${name("CLIENT_SECRET")} and ${name("CREDENTIAL_STYLE")}`
      )
    )
  }
  const { method: _, ...grant } = authentication
  return Either.right({ grant })
}
