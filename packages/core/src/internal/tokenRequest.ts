import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as AuthorizationServerMetadata from "../AuthorizationServerMetadata.js"
import * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import { certificateOf } from "../MutualTls.js"
import type { RequestParameters } from "../TokenEndpointClient.js"
import { ClientConfigurationError } from "../TokenError.js"
import { credentials, type Grant, grantOf } from "./clientAuthentication.js"
import { formBody, refusePrototypeParameter, reservedParameters } from "./form.js"
import { checkTransport } from "./transport.js"

/**
 * The effective token request: a client's defaults and one request's parameters, resolved and
 * validated once where the request enters (`TokenService.getToken`), so that a bad value fails
 * before any cache read, lock, metric or request. Both the cache key and the form derive from it.
 * It is a `RequestParameters` whose values replace the client's own entirely, so resolving it again
 * gives the same request.
 */
export class TokenRequest {
  constructor(
    readonly scope: string | undefined,
    /** The resource indicators, in the order they are sent. */
    readonly resource: ReadonlyArray<string>,
    /** The extra parameters: the client's, then the request's (which override them). */
    readonly parameters: Readonly<Record<string, string>>,
    /** What identifies the token this request gets (see {@link bindingParts}); it holds no secret. */
    readonly localKey: string
  ) {}
}

/**
 * What a token is bound to, in a fixed order: issuer or token endpoint, client id, client name,
 * scope, resources, extra parameters. A feature that binds a token to more (the DPoP key's JWK
 * thumbprint, the client certificate's thumbprint) appends its part here, only when the client has
 * it, so that the key of every other token stays as it was and a shared cache keeps serving it
 * across an upgrade.
 */
export const bindingParts = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  scope: string | undefined,
  resource: ReadonlyArray<string>,
  parameters: Readonly<Record<string, string>>
): Array<unknown> => [
  // The issuer, not the token endpoint its metadata names, so that a key stays stable across
  // metadata refreshes and two issuers never share a token.
  client.issuer ?? client.tokenEndpoint,
  client.clientId,
  client.name,
  scope ?? null,
  [...resource].sort(),
  Object.keys(parameters).sort().map((name) => [name, parameters[name]]),
  // A DPoP token is useless with any other key: replicas that load the same key share it, others never.
  ...(client.dpop === undefined ? [] : [["dpop", client.dpop.key.thumbprint]]),
  ...certificatePart(client)
]

// A certificate-bound token is useless without its certificate: a rotated certificate gets its own.
const certificatePart = (client: ClientCredentialsClient.ClientCredentialsClient): Array<unknown> => {
  const certificate = certificateOf(client)
  return certificate === undefined ? [] : [["x5t#S256", certificate.thumbprint]]
}

const isScope = Schema.is(ClientCredentialsClient.Scope)
const isResourceIndicator = Schema.is(ClientCredentialsClient.ResourceIndicator)

const invalid = (client: string, field: string, reason: string) =>
  Either.left(new ClientConfigurationError({ client, field, reason }))

/**
 * Resolves `parameters` against the client's defaults: `scope` and `resource` replace the client's,
 * extra parameters add to (or override) its own. Fails on a malformed scope or resource indicator,
 * or an extra parameter that would set a reserved field or is named `__proto__`.
 */
export const resolve = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  parameters?: RequestParameters
): Either.Either<TokenRequest, ClientConfigurationError> => {
  if (parameters instanceof TokenRequest) return Either.right(parameters)
  const scope = parameters?.scope ?? client.scope
  if (scope !== undefined && !isScope(scope)) {
    return invalid(client.name, "scope", "must be scope tokens separated by single spaces (RFC 6749 §3.3)")
  }
  const given = parameters?.resource ?? client.resource ?? []
  const resource = typeof given === "string" ? [given] : [...given]
  if (!resource.every(isResourceIndicator)) {
    return invalid(client.name, "resource", "must be an absolute URI without a fragment (RFC 8707)")
  }
  const extra = { ...client.parameters, ...parameters?.parameters }
  const unkept = refusePrototypeParameter(client.name, extra)
  if (unkept !== undefined) return Either.left(unkept)
  for (const name of Object.keys(extra)) {
    if (reservedParameters.has(name)) {
      return invalid(client.name, `parameters.${name}`, "may not be set as an extra parameter")
    }
  }
  return Either.right(
    new TokenRequest(scope, resource, extra, JSON.stringify(bindingParts(client, scope, resource, extra)))
  )
}

const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * The key under which a token is stored in the `TokenCache`: the client name and a SHA-256 of the
 * request's local key, short enough for any store (a file name, a Redis key).
 */
export const cacheKey = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  request: TokenRequest
): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(request.localKey))).pipe(
    Effect.map((digest) => `${client.name}:${hex(digest)}`)
  )

/**
 * Where one attempt is sent: the token endpoint, from the client's definition or from discovery,
 * and the issuer it belongs to when known.
 */
export interface Target {
  readonly tokenEndpoint: string
  readonly issuer?: string | undefined
  /** The issuer's metadata, when the client is configured by issuer. */
  readonly metadata?: AuthorizationServerMetadata.AuthorizationServerMetadata | undefined
}

/** How one attempt proves the client's identity: headers, and form pairs placed after `grant_type`. */
export interface Credentials {
  readonly headers: Readonly<Record<string, string>>
  readonly pairs: ReadonlyArray<readonly [string, string]>
}

/**
 * The form of a token request, in a fixed order: the grant's pairs (`grant_type` first), the
 * credentials' pairs, `scope` unless the grant carries it, each `resource`, the extra parameters.
 */
export const formPairs = (
  request: TokenRequest,
  grant: Grant,
  credentials: Credentials
): Array<readonly [string, string]> => {
  const pairs: Array<readonly [string, string]> = [...grant.pairs, ...credentials.pairs]
  if (request.scope !== undefined && grant.scopeInForm) pairs.push(["scope", request.scope])
  for (const indicator of request.resource) pairs.push(["resource", indicator])
  for (const name of Object.keys(request.parameters)) pairs.push([name, request.parameters[name]])
  return pairs
}

/**
 * Builds the HTTP request of one attempt: a form `POST` to the target. Every attempt (the first,
 * each retry) runs this afresh, since what proves the client's identity may be valid for one
 * attempt only (a client assertion's `jti`, a DPoP proof and its nonce).
 */
export const encodeAttempt = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  request: TokenRequest,
  target: Target
): Effect.Effect<HttpClientRequest.HttpClientRequest, ClientConfigurationError> =>
  Effect.suspend(() => {
    const transport = checkTransport(client, target.tokenEndpoint)
    if (Either.isLeft(transport)) return Effect.fail(transport.left)
    return Effect.zipWith(
      grantOf(client, request.scope, target),
      credentials(client, target),
      (grant, credentials) =>
        HttpClientRequest.post(target.tokenEndpoint).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.setHeaders(credentials.headers),
          HttpClientRequest.bodyText(
            formBody(formPairs(request, grant, credentials)),
            "application/x-www-form-urlencoded"
          )
        )
    )
  })
