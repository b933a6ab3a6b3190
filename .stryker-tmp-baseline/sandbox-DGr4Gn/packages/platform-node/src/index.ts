/**
 * @since 0.2.0
 */
// @ts-nocheck


/**
 * The `MutualTls` transport of `@access-token/core` on Node.js: each client certificate gets an
 * undici `Agent` of its own, which presents it on every TLS connection, behind
 * `NodeHttpClient.makeUndici`.
 *
 * @since 0.2.0
 */
export * as NodeMutualTls from "./NodeMutualTls.js"
