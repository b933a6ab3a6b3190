/**
 * The bound on token requests under way at once (`maxConcurrentRequests`), and which requests share
 * it: those to one authorization server. By default a server is the origin of the token endpoint,
 * so every tenant on one host shares one queue whatever its path: Microsoft Entra ID's
 * `/{tenant}/oauth2/v2.0/token` for every tenant of `login.microsoftonline.com`, Keycloak's
 * `/realms/{realm}/protocol/openid-connect/token` for every realm of one Keycloak.
 * `requestBoundKey` groups them otherwise.
 *
 * @example
 * ```ts
 * import type { TokenService } from "@access-token/core"
 *
 * // Keycloak: a bound per realm rather than per Keycloak, for realms that are servers of their own
 * // (in front of separate clusters, say): the key is the endpoint up to `/protocol/`.
 * const options: TokenService.Options = {
 *   clients: {},
 *   maxConcurrentRequests: 8,
 *   requestBoundKey: (tokenEndpoint) => tokenEndpoint.href.split("/protocol/")[0]
 * }
 * ```
 *
 * @since 0.2.0
 */
// @ts-nocheck


/**
 * The request-bound settings of a token service: how many token requests at once, to what.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How many token requests may be under way at once to one authorization server, whatever the
   * number of clients (default `TokenService.defaultMaxConcurrentRequests`, 16). Further requests
   * queue; their wait shows in `TokenMetrics.tokenRequestWait`, and a caller waiting may be interrupted.
   */
  readonly maxConcurrentRequests?: number | undefined
  /**
   * The authorization server of a token endpoint, as the bound counts it: token requests to
   * endpoints with one key share one queue of `maxConcurrentRequests` (default
   * {@link defaultRequestBoundKey}, the endpoint's origin). For a client configured by issuer, the
   * token endpoint of its issuer's metadata. Called once per token request, never on a cached token;
   * and once per retrieval of an issuer's metadata, with the issuer's URL, which queues under its key.
   */
  readonly requestBoundKey?: ((tokenEndpoint: URL) => string) | undefined
}

/**
 * The default key of the request bound: the token endpoint's origin (`https://login.microsoftonline.com`),
 * so that every tenant's path on one host shares one queue.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRequestBoundKey = (tokenEndpoint: URL): string => tokenEndpoint.origin
