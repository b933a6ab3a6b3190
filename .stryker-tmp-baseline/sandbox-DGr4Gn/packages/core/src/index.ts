/**
 * @since 0.1.0
 */
// @ts-nocheck

export * as AccessToken from "./AccessToken.js"

/**
 * @since 0.1.0
 */
export * as TokenError from "./TokenError.js"

/**
 * @since 0.1.0
 */
export * as TokenCache from "./TokenCache.js"

/**
 * @since 0.1.0
 */
export * as ClientCredentialsClient from "./ClientCredentialsClient.js"

/**
 * @since 0.1.0
 */
export * as TokenEndpointClient from "./TokenEndpointClient.js"

/**
 * @since 0.1.0
 */
export * as TokenService from "./TokenService.js"

/**
 * The options of every `layerConfig`: each field a `Config` (read from the environment) or a plain
 * value, so that `TokenService.layerConfig({ clients: { api: ClientCredentialsClient.config("API") },
 * warmUp: true })` needs no `Config.succeed`.
 *
 * @since 0.2.0
 */
export * as LayerConfig from "./LayerConfig.js"

/**
 * When a token counts as expired and when it is renewed: the expiration buffer, the refresh window,
 * the retries of a failed renewal and the backoff after a refusal, with their defaults.
 *
 * @since 0.2.0
 */
export * as TokenLifetime from "./TokenLifetime.js"

/**
 * The metrics of token acquisition, by client.
 *
 * @since 0.2.0
 */
export * as TokenMetrics from "./TokenMetrics.js"

/**
 * Clients found while the service runs (tenants, clients kept in a database or a secret manager).
 *
 * @since 0.2.0
 */
export * as ClientResolver from "./ClientResolver.js"

/**
 * Which token requests share the bound of `maxConcurrentRequests`: those to one authorization server.
 *
 * @since 0.2.0
 */
export * as TokenRequestBound from "./TokenRequestBound.js"

/**
 * @since 0.2.0
 */
export * as DPoP from "./DPoP.js"

/**
 * DPoP nonces (RFC 9449 §8, §9): the values servers hand out for the next proofs to carry, kept
 * per origin, and how a resource server asks for one.
 *
 * @since 0.2.0
 */
export * as DPoPNonce from "./DPoPNonce.js"

/**
 * @since 0.2.0
 */
export * as AuthorizationServerMetadata from "./AuthorizationServerMetadata.js"

/**
 * @since 0.2.0
 */
export * as ClientAuthentication from "./ClientAuthentication.js"

/**
 * @since 0.2.0
 */
export * as JwtBearerGrant from "./JwtBearerGrant.js"

/**
 * Mutual TLS (RFC 8705): a client that authenticates with its TLS client certificate
 * (`tls_client_auth`, `self_signed_tls_client_auth`), and gets tokens bound to it (`cnf.x5t#S256`).
 *
 * @since 0.2.0
 */
export * as MutualTls from "./MutualTls.js"

/**
 * @since 0.2.0
 */
export * as TokenReadiness from "./TokenReadiness.js"
