// @ts-nocheck
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ClientAuthentication from "../ClientAuthentication.js"
import type { Input } from "../ClientCredentialsClient.js"
import * as DPoP from "../DPoP.js"
import * as JwtBearerGrant from "../JwtBearerGrant.js"
import { variable, withSource } from "./configNames.js"
import { grantAndAuthentication } from "./loadAuthentication.js"

const words = (s: string) => s.split(/[\s,]+/).filter((word) => word.length > 0)

/** The variables of client authentication (see `ClientAuthentication.config`). */
const authenticationKeys = [
  "TOKEN_ENDPOINT_AUTH_METHOD",
  "PRIVATE_KEY",
  "PRIVATE_KEY_ID",
  "SIGNING_ALGORITHM",
  "CERTIFICATE",
  "CERTIFICATE_X5T",
  "ASSERTION_AUDIENCE",
  "ASSERTION_LIFETIME"
] as const

/**
 * The variables set that `AUTHENTICATION=none` contradicts: every credential of the client, and how
 * its secret is sent, each otherwise ignored in silence (a certificate the server never sees). Under
 * the JWT bearer grant, the key and its companions sign the grant's assertions, not the client's. A
 * secret alone is left to `make`, which says so in the same words for a client defined in code.
 */
const contradictedByNone = (fields: {
  readonly clientSecret: Option.Option<unknown>
  readonly credentialStyle: Option.Option<unknown>
  readonly grantType: Option.Option<string>
  readonly serviceAccountKey: Option.Option<unknown>
  readonly authenticationSet: ReadonlyArray<string>
}): ReadonlyArray<string> => {
  const grantKeys = Option.getOrUndefined(fields.grantType) === JwtBearerGrant.grantType &&
    Option.isNone(fields.serviceAccountKey)
  const others = [
    ...(Option.isSome(fields.credentialStyle) ? ["CREDENTIAL_STYLE"] : []),
    ...(grantKeys ? [] : fields.authenticationSet)
  ]
  return others.length === 0 ? [] : [...(Option.isSome(fields.clientSecret) ? ["CLIENT_SECRET"] : []), ...others]
}

/**
 * See `ClientCredentialsClient.config`. Nothing is validated here but what only the configuration
 * can tell (a value set but empty, `AUTHENTICATION=none` beside a credential): the definition is checked
 * when the client is made, in the words of the variables read (see `configNames.ts`).
 */
export const config = (prefix: string | undefined): Config.Config<Input> => {
  const fields = Config.all({
    tokenEndpoint: Config.option(Config.string("TOKEN_ENDPOINT")),
    issuer: Config.option(Config.string("ISSUER")),
    clientId: Config.option(Config.string("CLIENT_ID")),
    clientSecret: Config.option(Config.redacted("CLIENT_SECRET")),
    credentialStyle: Config.option(Config.literal("header", "body")("CREDENTIAL_STYLE")),
    scope: Config.option(Config.string("SCOPE")),
    resource: Config.option(Config.string("RESOURCE")),
    allowInsecureTransport: Config.option(Config.boolean("ALLOW_INSECURE_TRANSPORT")),
    expirationBuffer: Config.option(Config.duration("EXPIRATION_BUFFER")),
    defaultLifetime: Config.option(Config.duration("DEFAULT_LIFETIME")),
    dpop: DPoP.config,
    authentication: ClientAuthentication.config,
    grantType: Config.option(Config.literal("client_credentials", JwtBearerGrant.grantType)("GRANT_TYPE")),
    serviceAccountKey: Config.option(Config.redacted("SERVICE_ACCOUNT_KEY")),
    none: Config.option(Config.literal("none")("AUTHENTICATION")),
    authenticationSet: Config.map(
      Config.all(authenticationKeys.map((key) => Config.option(Config.redacted(key)))),
      (values) => authenticationKeys.filter((_, index) => Option.isSome(values[index]!))
    )
  })
  const nested = prefix === undefined ? fields : Config.nested(fields, prefix)
  return Config.mapOrFail(nested, (fields) => {
    // Set but empty (`API_TOKEN_ENDPOINT=`): said so when the client is made, in the variable's name.
    const values = { ...fields, clientSecret: Option.map(fields.clientSecret, Redacted.value) }
    const empty = (["tokenEndpoint", "issuer", "clientId", "clientSecret", "scope", "resource"] as const).filter((
      field
    ) => Option.getOrUndefined(values[field]) === "")
    const contradicted = Option.isSome(fields.none) ? contradictedByNone(fields) : []
    if (contradicted.length > 0) {
      const [first, ...others] = contradicted.map((key) => variable(prefix, key))
      return Either.left(
        ConfigError.InvalidData(
          ["AUTHENTICATION"],
          others.length === 0
            ? `none declares a public client, which ${first} contradicts: remove one of the two`
            : `none declares a public client, which ${[first, ...others.slice(0, -1)].join(", ")} and ${
              others.at(-1)
            } contradict: remove ${variable(prefix, "AUTHENTICATION")}, or them`
        )
      )
    }
    return Either.map(grantAndAuthentication(fields, prefix), (keys): Input =>
      withSource({
        ...keys,
        ...(Option.isSome(fields.none) ? { authentication: "none" as const } : {}),
        tokenEndpoint: Option.getOrUndefined(fields.tokenEndpoint),
        issuer: Option.getOrUndefined(fields.issuer),
        clientId: Option.getOrUndefined(fields.clientId),
        clientSecret: Option.getOrUndefined(fields.clientSecret),
        credentialStyle: Option.getOrUndefined(fields.credentialStyle),
        scope: Option.getOrUndefined(fields.scope),
        resource: Option.getOrUndefined(Option.map(fields.resource, words)),
        allowInsecureTransport: Option.getOrUndefined(fields.allowInsecureTransport),
        expirationBuffer: Option.getOrUndefined(fields.expirationBuffer),
        defaultLifetime: Option.getOrUndefined(fields.defaultLifetime),
        dpop: fields.dpop
      }, { prefix, empty }))
  })
}
