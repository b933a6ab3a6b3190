/**
 * What a token handed out by the token service is bound to: the DPoP key its proofs must be signed
 * with, the client certificate it must travel with. Kept beside the token, never in it: a token's
 * fields are what a `TokenCache` stores and what renderings show, and neither may hold a key.
 */
import * as Redacted from "effect/Redacted"
import * as Jose from "jose"
import type { AccessToken, Binding } from "../AccessToken.js"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import * as MutualTls from "../MutualTls.js"

/** The binding of each token the service handed out; a token made or decoded elsewhere has none. */
export const bindings = new WeakMap<AccessToken, Binding>()

/**
 * Whether `token` is a JWT that names no certificate (`cnf.x5t#S256`, RFC 8705 §3.1): a server may
 * issue a certificate client unbound tokens, which then go over any transport. An opaque token
 * (or any doubt) counts as bound, so that it is never sent without its certificate.
 */
const isUnboundJwt = (token: AccessToken): boolean => {
  let payload: Jose.JWTPayload
  try {
    payload = Jose.decodeJwt(Redacted.value(token.value))
  } catch {
    return false
  }
  const cnf = payload.cnf
  return typeof cnf !== "object" || cnf === null || (cnf as Record<string, unknown>)["x5t#S256"] === undefined
}

/**
 * `token` as `client` holds it: a copy carrying the key and certificate of this very definition,
 * the ones its token request was made with, so that whoever attaches the token signs with exactly
 * that key and presents exactly that certificate, even after the definition was replaced. A token
 * bound to nothing is returned as it is. The copy is made once per token entering the service.
 */
export const bind = (token: AccessToken, client: ClientCredentialsClient.ClientCredentialsClient): AccessToken => {
  // Only a DPoP token is bound to the key: a Bearer answer the client allowed (`allowBearer`) is not.
  const key = token.type === "DPoP" ? client.dpop?.key : undefined
  const ofClient = MutualTls.certificateOf(client)
  const certificate = ofClient === undefined || isUnboundJwt(token) ? undefined : ofClient
  if (key === undefined && certificate === undefined) return token
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: the token was validated when it was made; validating
  // its copy again only costs time
  const copy = new (token.constructor as typeof AccessToken)(token, { disableValidation: true })
  bindings.set(copy, { key, certificate })
  return copy
}
