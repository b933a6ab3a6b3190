/**
 * The metrics of token acquisition, each labelled with the `client` it counts for. A token served
 * from the in-process cache costs one increment of {@link cacheHits} and nothing else. The core
 * README's table lists them with the spans, and a test holds the table to the sources.
 *
 * @example
 * ```ts
 * import { TokenMetrics, TokenService } from "@access-token/core"
 * import { Effect, Metric } from "effect"
 *
 * // How many token requests one client's tokens have cost so far.
 * const requestsOf = (client: string) =>
 *   Metric.value(TokenMetrics.tokenRequests.pipe(Metric.tagged("client", client))).pipe(
 *     Effect.map((state) => state.count)
 *   )
 *
 * const program = Effect.gen(function*() {
 *   yield* TokenService.getToken("api")
 *   yield* Effect.log(`token requests of api: ${yield* requestsOf("api")}`)
 * })
 * ```
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Metric from "effect/Metric"

/**
 * Local cache hits, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const cacheHits = Metric.counter("access_token_cache_hits", {
  description: "Tokens served from the in-process cache",
  incremental: true
})

/**
 * Acquisitions that went past the in-process cache, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const cacheMisses = Metric.counter("access_token_cache_misses", {
  description: "Token acquisitions that went past the in-process cache",
  incremental: true
})

/**
 * Requests made to the token endpoint, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tokenRequests = Metric.counter("access_token_token_requests", {
  description: "Token requests sent to the token endpoint",
  incremental: true
})

/**
 * How long each token request waited for its turn under `maxConcurrentRequests`, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tokenRequestWait = Metric.timer(
  "access_token_token_request_wait",
  "How long token requests waited for their turn at the token endpoint (maxConcurrentRequests)"
)

/**
 * Token requests that failed after their retries, by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const tokenRequestFailures = Metric.counter("access_token_token_request_failures", {
  description: "Token requests that failed after all retries",
  incremental: true
})

/**
 * Renewals forced by a caller (for example after a `401`), by client.
 *
 * @since 0.2.0
 * @category metrics
 */
export const forcedRenewals = Metric.counter("access_token_forced_renewals", {
  description: "Token renewals forced by a caller, such as after a 401",
  incremental: true
})

/**
 * `TokenCache` operations that failed, died or took too long, by client: each was treated as a
 * miss. The log says when the cache stops answering and when it is back, not at every failure.
 *
 * @since 0.2.0
 * @category metrics
 */
export const cacheFailures = Metric.counter("access_token_cache_failures", {
  description: "Token cache operations that failed, died or timed out, each treated as a miss",
  incremental: true
})
