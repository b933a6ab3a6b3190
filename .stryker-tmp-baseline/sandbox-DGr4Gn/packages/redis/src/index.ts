/**
 * @since 0.1.0
 */
// @ts-nocheck


/**
 * A `TokenCache` on Redis shared by the replicas of a worker: tokens encrypted at rest, one token
 * request per cold start across replicas, and a Redis outage that never fails a token request.
 *
 * @since 0.1.0
 */
export * as RedisTokenCache from "./RedisTokenCache.js"
