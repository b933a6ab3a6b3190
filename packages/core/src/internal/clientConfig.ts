import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ClientAuthentication from "../ClientAuthentication.js"
import type { Input } from "../ClientCredentialsClient.js"
import * as DPoP from "../DPoP.js"
import * as JwtBearerGrant from "../JwtBearerGrant.js"
import { withSource } from "./configNames.js"
import { grantAndAuthentication } from "./loadAuthentication.js"

const words = (s: string) => s.split(/[\s,]+/).filter((word) => word.length > 0)

/**
 * See `ClientCredentialsClient.config`. Nothing is validated here but what only the configuration
 * can tell (a value set but empty, `AUTHENTICATION=none` beside a method): the definition is checked
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
    none: Config.option(Config.literal("none")("AUTHENTICATION"))
  })
  const nested = prefix === undefined ? fields : Config.nested(fields, prefix)
  return Config.mapOrFail(nested, (fields) => {
    // Set but empty (`API_TOKEN_ENDPOINT=`): said so when the client is made, in the variable's name.
    const values = { ...fields, clientSecret: Option.map(fields.clientSecret, Redacted.value) }
    const empty = (["tokenEndpoint", "issuer", "clientId", "clientSecret", "scope", "resource"] as const).filter((
      field
    ) => Option.getOrUndefined(values[field]) === "")
    if (Option.isSome(fields.none) && Option.isSome(fields.authentication)) {
      return Either.left(
        ConfigError.InvalidData(
          ["AUTHENTICATION"],
          "none declares a public client, which TOKEN_ENDPOINT_AUTH_METHOD or PRIVATE_KEY contradicts: remove one"
        )
      )
    }
    return Either.map(grantAndAuthentication(fields), (keys): Input =>
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
