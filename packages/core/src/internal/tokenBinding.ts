/**
 * What a token handed out by the token service is bound to: the DPoP key its proofs must be signed
 * with, the client certificate it must travel with. Kept beside the token, never in it: a token's
 * fields are what a `TokenCache` stores and what renderings show, and neither may hold a key.
 */
import type { AccessToken, Binding } from "../AccessToken.js"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import * as MutualTls from "../MutualTls.js"

/** The binding of each token the service handed out; a token made or decoded elsewhere has none. */
export const bindings = new WeakMap<AccessToken, Binding>()

/**
 * `token` as `client` holds it: a copy carrying the key and certificate of this very definition,
 * the ones its token request was made with, so that whoever attaches the token signs with exactly
 * that key and presents exactly that certificate, even after the definition was replaced. A token
 * bound to nothing is returned as it is. The copy is made once per token entering the service.
 */
export const bind = (token: AccessToken, client: ClientCredentialsClient.ClientCredentialsClient): AccessToken => {
  // Only a DPoP token is bound to the key: a Bearer answer the client allowed (`allowBearer`) is not.
  const key = token.type === "DPoP" ? client.dpop?.key : undefined
  const certificate = MutualTls.certificateOf(client)
  if (key === undefined && certificate === undefined) return token
  const copy = new (token.constructor as typeof AccessToken)(token, { disableValidation: true })
  bindings.set(copy, { key, certificate })
  return copy
}
