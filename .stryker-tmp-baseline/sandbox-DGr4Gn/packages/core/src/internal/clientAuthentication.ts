// @ts-nocheck
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as ClientAuthentication from "../ClientAuthentication.js"
import * as JwtBearerGrant from "../JwtBearerGrant.js"
import { ClientConfigurationError } from "../TokenError.js"
import { sign, type Signer } from "./clientAssertion.js"
import { basicAuthorization } from "./form.js"
import type { Credentials, Target } from "./tokenRequest.js"

/** The parts of a client definition that its authentication reads. */
export interface Identity {
  readonly name: string
  readonly clientId: string
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  readonly credentialStyle: "header" | "body"
  readonly authentication?: ClientAuthentication.ClientAuthentication | undefined
  readonly grant?: JwtBearerGrant.JwtBearerGrant | undefined
}

/** RFC 7523 §2.2. */
export const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const noSecret = (client: Identity, method: string) =>
  Effect.fail(
    new ClientConfigurationError({ client: client.name, field: "clientSecret", reason: `is required by ${method}` })
  )

/** The method a client authenticates with: its `authentication`, else what its credential style says. */
export const methodOf = (client: Identity): ClientAuthentication.Method | "none" =>
  client.authentication !== undefined
    ? client.authentication.method
    : client.clientSecret === undefined
    ? "none"
    : client.credentialStyle === "body"
    ? "client_secret_post"
    : "client_secret_basic"

/** The `aud` of an assertion for `target`. */
export const audienceOf = (
  client: string,
  field: string,
  audience: ClientAuthentication.Audience,
  target: Target
): Effect.Effect<string, ClientConfigurationError> =>
  audience === "tokenEndpoint"
    ? Effect.succeed(target.tokenEndpoint)
    : audience !== "issuer"
    ? Effect.succeed(audience)
    : target.issuer !== undefined
    ? Effect.succeed(target.issuer)
    : Effect.fail(
      new ClientConfigurationError({
        client,
        field: `${field}.audience`,
        reason:
          "is the issuer, which is not known: configure the client by its issuer, or set audience to tokenEndpoint for a server that expects the token endpoint, or to the audience itself"
      })
    )

const none: Credentials = { headers: {}, pairs: [] }

/**
 * The credentials of one attempt. An assertion is signed afresh on every call, so that no retry
 * ever resends a `jti` the server has seen (which it refuses as a replay). A public client sends
 * its id alone, except with the JWT bearer grant, whose assertion already says who it is.
 */
export const credentials = (
  client: Identity,
  target: Target
): Effect.Effect<Credentials, ClientConfigurationError> => {
  const secret = client.clientSecret
  switch (methodOf(client)) {
    case "none":
      return Effect.succeed(
        client.grant === undefined ? { headers: {}, pairs: [["client_id", client.clientId]] } : none
      )
    case "client_secret_basic":
      return secret === undefined ? noSecret(client, "client_secret_basic") : Effect.succeed({
        headers: { authorization: basicAuthorization(client.clientId, Redacted.value(secret)) },
        pairs: []
      })
    case "client_secret_post":
      return secret === undefined ? noSecret(client, "client_secret_post") : Effect.succeed({
        headers: {},
        pairs: [["client_id", client.clientId], ["client_secret", Redacted.value(secret)]]
      })
  }
  const auth = client.authentication
  if (auth?._tag === "PrivateKeyJwt") {
    return assertionCredentials(client, target, auth.assertion, { _tag: "Key", key: auth.signingKey })
  }
  if (auth?._tag === "ClientSecretJwt") {
    return secret === undefined
      ? noSecret(client, "client_secret_jwt")
      : assertionCredentials(client, target, auth.assertion, { _tag: "Secret", algorithm: auth.algorithm, secret })
  }
  // RFC 8705 §2: the certificate on the TLS connection proves who the client is; the form names it.
  if (auth?._tag === "TlsClientAuth" || auth?._tag === "SelfSignedTlsClientAuth") {
    return Effect.succeed({ headers: {}, pairs: [["client_id", client.clientId]] })
  }
  return Effect.die(new Error(`unknown client authentication for client "${client.name}"`))
}

const assertionCredentials = (
  client: Identity,
  target: Target,
  settings: ClientAuthentication.AssertionSettings,
  signer: Signer
): Effect.Effect<Credentials, ClientConfigurationError> =>
  audienceOf(client.name, "authentication", settings.audience, target).pipe(
    Effect.flatMap((aud) => sign(client.name, signer, { iss: client.clientId, sub: client.clientId, aud }, settings)),
    Effect.map((assertion): Credentials => ({
      headers: {},
      pairs: [
        ["client_id", client.clientId],
        ["client_assertion_type", clientAssertionType],
        ["client_assertion", Redacted.value(assertion)]
      ]
    }))
  )

/** The grant of one attempt: its form pairs, and whether the scope also goes in the form. */
export interface Grant {
  readonly pairs: ReadonlyArray<readonly [name: string, value: string]>
  readonly scopeInForm: boolean
}

const clientCredentialsGrant: Grant = { pairs: [["grant_type", "client_credentials"]], scopeInForm: true }

/**
 * The grant of one attempt: the client credentials grant, or the JWT bearer grant (RFC 7523 §2.1)
 * with an assertion signed afresh, carrying the scope as a claim when the grant puts it there.
 */
export const grantOf = (
  client: Pick<Identity, "name" | "clientId" | "grant">,
  scope: string | undefined,
  target: Target
): Effect.Effect<Grant, ClientConfigurationError> => {
  const grant = client.grant
  if (grant === undefined) return Effect.succeed(clientCredentialsGrant)
  const scopeInForm = grant.scopeIn === "parameter"
  return audienceOf(client.name, "grant", grant.assertion.audience, target).pipe(
    Effect.flatMap((aud) =>
      sign(
        client.name,
        { _tag: "Key", key: grant.signingKey },
        { iss: client.clientId, sub: grant.subject, aud, scope: scopeInForm ? undefined : scope },
        grant.assertion
      )
    ),
    Effect.map((assertion): Grant => ({
      pairs: [["grant_type", JwtBearerGrant.grantType], ["assertion", Redacted.value(assertion)]],
      scopeInForm
    }))
  )
}
