/**
 * @since 0.1.0
 */

/**
 * A protected API on loopback that accepts the token server's JWT access tokens, for testing
 * clients end to end.
 *
 * @since 0.1.0
 */
export * as ProtectedApi from "./ProtectedApi.js"

/**
 * A real OAuth 2.0 authorization server on loopback, built on oidc-provider, that issues JWT
 * access tokens with the client credentials grant.
 *
 * @since 0.1.0
 */
export * as TokenServer from "./TokenServer.js"

/**
 * @since 0.1.0
 */
export * as RedisServer from "./RedisServer.js"
