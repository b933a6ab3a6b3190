/**
 * What a token service is built on, taken from its options and its context once, when it is
 * built: the endpoint client, the cache behind its guard, the issuers' metadata, the bound on
 * concurrent token requests and the registered clients. `tokenService.ts` keeps the concurrency
 * core that works on them.
 */
// @ts-nocheck

import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as AuthorizationServerMetadata from "../AuthorizationServerMetadata.js"
import * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import * as ClientResolver from "../ClientResolver.js"
import * as TokenCache from "../TokenCache.js"
import { TokenEndpointClient } from "../TokenEndpointClient.js"
import type { ClientConfigurationError, TokenError } from "../TokenError.js"
import * as TokenLifetime from "../TokenLifetime.js"
import * as TokenMetrics from "../TokenMetrics.js"
import * as TokenRequestBound from "../TokenRequestBound.js"
// Read only when the service is built: the public module declares the options and their defaults.
import * as TokenService from "../TokenService.js"
import * as guardedCache from "./guardedCache.js"
import { lifetimeOf } from "./lifetime.js"
import * as metadataCache from "./metadataCache.js"
import * as refusals from "./refusals.js"
import * as requestBound from "./requestBound.js"
import * as slots from "./slots.js"
import type { Registration } from "./slots.js"
import type { Target } from "./tokenRequest.js"

export interface Parts {
  readonly endpoint: TokenEndpointClient.Service
  /** A cache that fails, dies, hangs or holds garbage costs a token request, never an acquisition. */
  readonly cache: guardedCache.GuardedCache
  /** Where requests and renewals run, so that no caller's interruption cancels them for the others. */
  readonly scope: Scope.Scope
  readonly refreshRetry: Schedule.Schedule<unknown, TokenError>
  /**
   * Where a client's token requests go: for a client configured by issuer, its issuer's token
   * endpoint, from one metadata document per issuer whatever the number of clients; a token request
   * never waits for the document's refresh once it is known.
   */
  readonly targetOf: (
    client: ClientCredentialsClient.ClientCredentialsClient
  ) => Effect.Effect<Target | undefined, AuthorizationServerMetadata.MetadataError>
  /** Runs a token request in its turn under `maxConcurrentRequests`, per authorization server. */
  readonly bound: requestBound.RequestBound
  /**
   * Checks a client definition and registers it, as the service was built with or resolved later,
   * its metrics labelled with `label` (default: its name).
   */
  readonly register: (
    name: string,
    input: TokenService.ClientInput,
    label?: string
  ) => Effect.Effect<Registration, ClientConfigurationError>
  readonly table: slots.Slots
  /** The clients whose credentials were refused, held back on `refusalBackoff`. */
  readonly refusals: refusals.Refusals
  /**
   * Definitions dropped (a tenant gone, a secret rotated): a request of theirs still under way must
   * not store its token where the next definition would find it.
   */
  readonly dropped: WeakSet<Registration>
}

export const make = (
  options: TokenService.Options
): Effect.Effect<Parts, ClientConfigurationError, TokenEndpointClient | TokenCache.TokenCache | Scope.Scope> =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpointClient
    const scope = yield* Effect.scope
    const register = (name: string, input: TokenService.ClientInput, label?: string) =>
      Effect.flatMap(
        ClientCredentialsClient.make(input, name),
        (client) => slots.register(name, client, lifetimeOf(options, client), label)
      )
    const registrations = yield* Effect.forEach(
      Object.entries(options.clients),
      ([name, input]) => register(name, input)
    )
    const bound = requestBound.make(
      Math.max(1, options.maxConcurrentRequests ?? TokenService.defaultMaxConcurrentRequests),
      options.requestBoundKey ?? TokenRequestBound.defaultRequestBoundKey,
      TokenMetrics.tokenRequestWait
    )
    // An issuer's metadata is retrieved in its turn with the token requests to the same server: a
    // cold start of tenants with an issuer each on one host queues there too.
    const discover: AuthorizationServerMetadata.Discover = (issuer) => bound.queuedAt(issuer, endpoint.discover(issuer))
    return {
      endpoint,
      cache: guardedCache.make(
        yield* TokenCache.TokenCache,
        Duration.decode(options.cacheTimeout ?? TokenCache.defaultTimeout)
      ),
      scope,
      refreshRetry: options.refreshRetrySchedule ?? TokenLifetime.defaultRefreshRetrySchedule,
      targetOf: metadataCache.targets(metadataCache.make(
        discover,
        metadataCache.lifetimesOf(
          options.metadataRefreshInterval ?? AuthorizationServerMetadata.defaultRefreshInterval
        ),
        scope,
        // One issuer per client at most: those registered, and those resolved that the service holds.
        Math.max(
          1,
          registrations.length +
            (options.resolveClient === undefined ? 0 : options.resolvedClientCapacity ?? ClientResolver.defaultCapacity)
        )
      )),
      bound,
      register,
      table: slots.make(registrations, Math.max(1, options.capacity ?? TokenService.defaultCapacity)),
      refusals: refusals.make(options.refusalBackoff ?? TokenLifetime.defaultRefusalBackoff),
      dropped: new WeakSet()
    }
  })
