/**
 * Clients found while the service runs: a name the service was not built with (a tenant, a client
 * kept in a database or a secret manager) is resolved into its definition by a function of yours.
 * Concurrent calls for one name share one resolution; definitions are kept for a time to live, at
 * most a capacity of them; a failed resolution (or one that takes longer than `resolverTimeout`) is
 * a `ClientResolutionError` and is not kept. A resolved client refused with `invalid_client` is
 * resolved again once: if its definition changed (a secret rotated at its source), the old one and
 * its tokens are dropped and the token is requested with the new one. A definition resolved again
 * unchanged (secrets compared by value, private and DPoP keys by thumbprint) keeps its tokens and
 * the DPoP key generated for it. `TokenService.drop` forgets a client at once, even while it is
 * being resolved.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenService } from "@access-token/core"
 *
 * // Each tenant's client from the environment, read when the tenant is first asked for:
 * // TENANT_ACME_TOKEN_ENDPOINT, TENANT_ACME_CLIENT_ID, TENANT_ACME_CLIENT_SECRET, ...
 * const options: TokenService.Options = {
 *   clients: {},
 *   resolveClient: (tenant) => ClientCredentialsClient.config(`TENANT_${tenant.toUpperCase()}`),
 *   resolvedClientTimeToLive: "10 minutes"
 * }
 * ```
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as TokenService from "./TokenService.js"

/**
 * The run-time client settings of a token service.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Resolves a client name that is not among the service's `clients` into its definition, for
   * clients added while the service runs. Its failure is a `ClientResolutionError` and is not kept:
   * the next call resolves again.
   */
  readonly resolveClient?: ((name: string) => Effect.Effect<TokenService.ClientInput, unknown>) | undefined
  /**
   * How long a resolution may take (default {@link defaultResolverTimeout}): a resolver that does
   * not answer in time fails with a `ClientResolutionError` (`TimedOut`) for every caller waiting
   * for it, and is not kept: the next call resolves again.
   */
  readonly resolverTimeout?: Duration.DurationInput | undefined
  /** How many resolved client definitions are kept (default {@link defaultCapacity}). */
  readonly resolvedClientCapacity?: number | undefined
  /**
   * How long a resolved client definition is used before it is resolved again (default
   * {@link defaultTimeToLive}).
   */
  readonly resolvedClientTimeToLive?: Duration.DurationInput | undefined
  /**
   * How many resolved clients get metric labels of their own (`client` = the name; default
   * {@link defaultLabelLimit}); the metrics of the others share the label `client` =
   * {@link sharedLabel}. Effect keeps the state of every metric label for the life of the process
   * (about 3 KB per client on Node.js), so without a bound, clients coming and going would grow the
   * heap, and the series a metrics backend stores, without end. Spans and logs always name the
   * client.
   */
  readonly resolvedClientLabelLimit?: number | undefined
}

/**
 * The default number of resolved client definitions that are kept.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultCapacity = 10_000

/**
 * The default time a resolved client definition is used before it is resolved again: a definition
 * changed at its source (a rotated secret) reaches the service within it, and at once on an
 * `invalid_client` refusal.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultTimeToLive: Duration.Duration = Duration.minutes(5)

/**
 * The default time a resolution may take before it fails with a `ClientResolutionError`: a
 * resolver reads a database or a secret manager, which answers within this or is in trouble.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultResolverTimeout: Duration.Duration = Duration.seconds(10)

/**
 * The default number of resolved clients whose metrics are labelled with their own name.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultLabelLimit = 1_000

/**
 * The `client` label of the metrics of resolved clients beyond `resolvedClientLabelLimit`.
 *
 * @since 0.2.0
 * @category constants
 */
export const sharedLabel = "(resolved)"
