import type * as Cache from "effect/Cache"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "../AccessToken.js"
import * as AuthorizationServerMetadata from "../AuthorizationServerMetadata.js"
import * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import { TokenCache } from "../TokenCache.js"
import { TokenEndpointClient } from "../TokenEndpointClient.js"
import type { ClientConfigurationError, ClientResolutionError } from "../TokenError.js"
import {
  type TokenEndpointError,
  type TokenError,
  type TokenRefusedError,
  type UnknownClientError
} from "../TokenError.js"
// Read only when the service is built: the public module declares the options, defaults and metrics.
import * as TokenService from "../TokenService.js"
import * as clientResolution from "./clientResolution.js"
import { sameDefinition } from "./definition.js"
import * as guardedCache from "./guardedCache.js"
import { isFresh, type Lifetime, type Mode, timed } from "./lifetime.js"
import * as metadataCache from "./metadataCache.js"
import { record, snapshot } from "./readiness.js"
import * as requestBound from "./requestBound.js"
import * as slots from "./slots.js"
import type { Registration, Slot } from "./slots.js"
import { withSpanWithoutValue } from "./tracing.js"
import { warmUp } from "./warmUp.js"

/** A client's lifetime settings: its own, or the service's, or the defaults. */
const lifetimeOf = (
  options: TokenService.Options,
  client: ClientCredentialsClient.ClientCredentialsClient
): Lifetime => ({
  expirationBuffer: Duration.toMillis(
    client.expirationBuffer ?? options.expirationBuffer ?? TokenService.defaultExpirationBuffer
  ),
  defaultLifetime: Duration.toMillis(client.defaultLifetime ?? options.defaultLifetime ?? TokenService.defaultLifetime),
  refreshWindow: options.refreshWindow ?? TokenService.defaultRefreshWindow
})

const count = (counter: Metric.Metric.Counter<number>, registration: Registration) =>
  Effect.sync(() => counter.unsafeUpdate(1, registration.labels))

/** A refusal of the client's credentials: for a resolved client, its definition may have been rotated. */
const isInvalidClient = (error: TokenError): error is TokenRefusedError =>
  error._tag === "TokenRefusedError" && error.error === "invalid_client"

/** The token service: its concurrency core, on the registrations and slots of `slots.ts`. */
export const make = (
  options: TokenService.Options
): Effect.Effect<
  TokenService.TokenService.Service,
  ClientConfigurationError | TokenRefusedError,
  TokenEndpointClient | TokenCache | Scope.Scope
> =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpointClient
    // A cache that fails, dies, hangs or holds garbage costs a token request, never an acquisition.
    const cache = guardedCache.make(
      yield* TokenCache,
      Duration.decode(options.cacheTimeout ?? TokenService.defaultCacheTimeout)
    )
    const scope = yield* Effect.scope
    const refreshRetry = options.refreshRetrySchedule ?? TokenService.defaultRefreshRetrySchedule
    // One metadata document per issuer, whatever the number of clients: a token request never waits
    // for its refresh once it is known.
    const targetOf = metadataCache.targets(metadataCache.make(
      endpoint.discover,
      metadataCache.lifetimesOf(options.metadataRefreshInterval ?? AuthorizationServerMetadata.defaultRefreshInterval),
      scope
    ))
    const queued = requestBound.make(
      Math.max(1, options.maxConcurrentRequests ?? TokenService.defaultMaxConcurrentRequests),
      TokenService.tokenRequestWait
    )
    const register = (name: string, input: TokenService.ClientInput) =>
      Effect.flatMap(
        ClientCredentialsClient.make(input, name),
        (client) => slots.register(name, client, lifetimeOf(options, client))
      )
    const table = slots.make(
      yield* Effect.forEach(Object.entries(options.clients), ([name, input]) => register(name, input)),
      Math.max(1, options.capacity ?? TokenService.defaultCapacity)
    )
    // Definitions dropped (a tenant gone, a secret rotated): a request of theirs still under way must
    // not store its token where the next definition would find it.
    const dropped = new WeakSet<Registration>()

    // Clients found at run time, one resolution per name for all concurrent callers.
    const resolution = options.resolveClient === undefined ? undefined : yield* clientResolution.make({
      resolveClient: options.resolveClient,
      capacity: Math.max(1, options.resolvedClientCapacity ?? TokenService.defaultResolvedClientCapacity),
      timeToLive: Duration.decode(options.resolvedClientTimeToLive ?? TokenService.defaultResolvedClientTimeToLive),
      register,
      forget: (registration) => forget(registration)
    })
    const resolutions = resolution?.resolutions

    /** Asks the shared cache, then the token endpoint, and stores what it gets in both. */
    const fetch = (slot: Slot, mode: Mode): Effect.Effect<AccessToken, TokenEndpointError> =>
      Effect.gen(function*() {
        const registration = slot.registration
        const key = yield* slots.cacheKeyOf(slot)
        const clock = yield* Effect.clock
        const startedAt = clock.unsafeCurrentTimeMillis()
        const fresh = (token: AccessToken) =>
          isFresh(registration.lifetime, token, mode, startedAt, clock.unsafeCurrentTimeMillis())
        if (mode === "force") {
          // The token being replaced may have been rejected: should its renewal fail, the next
          // caller must not find it in the cache again.
          yield* cache.remove(registration, key)
        } else {
          const cached = yield* cache.get(registration, key)
          if (Option.isSome(cached) && fresh(cached.value)) return cached.value
        }
        const request = targetOf(registration.client).pipe(
          Effect.flatMap((target) =>
            queued(
              registration,
              target,
              Effect.zipRight(
                count(TokenService.tokenRequests, registration),
                endpoint.requestToken(registration.client, slot.request, target)
              )
            )
          ),
          Effect.tapBoth({
            onFailure: () => count(TokenService.tokenRequestFailures, registration),
            onSuccess: (token) =>
              Effect.clockWith((clock) => {
                const timeToLive = timed(registration.lifetime, token).staleAt - clock.unsafeCurrentTimeMillis()
                return timeToLive > 0 && !dropped.has(registration)
                  ? cache.set(registration, key, token, Duration.millis(timeToLive))
                  : Effect.void
              })
          })
        )
        return yield* cache.coordinate(registration, key, request, fresh)
      }).pipe(
        Effect.tapBoth({
          onFailure: (error) => Effect.annotateCurrentSpan("outcome", error._tag),
          onSuccess: () => Effect.annotateCurrentSpan("outcome", "success")
        }),
        withSpanWithoutValue("TokenService.acquire", {
          attributes: { "oauth.client.name": slot.registration.name, "access_token.mode": mode }
        })
      )

    /**
     * Joins the request under way for `slot`, or starts one in the service's scope, so that a
     * caller's interruption never cancels it for the others.
     */
    const shared = (slot: Slot, mode: Mode): Effect.Effect<AccessToken, TokenError> =>
      Effect.uninterruptible(Effect.suspend(() => {
        if (slot.inflight !== undefined) return Effect.succeed(slot.inflight)
        const deferred = Deferred.unsafeMake<AccessToken, TokenError>(FiberId.none)
        slot.inflight = deferred
        const settle = (exit: Exit.Exit<AccessToken, TokenError>) =>
          Effect.clockWith((clock) => {
            slot.inflight = undefined
            record(slot, exit, clock.unsafeCurrentTimeMillis())
            if (Exit.isSuccess(exit)) {
              const next = timed(slot.registration.lifetime, exit.value)
              if (next.staleAt > clock.unsafeCurrentTimeMillis()) slot.current = next
            }
            return Deferred.done(deferred, exit)
          })
        return fetch(slot, mode).pipe(
          Effect.interruptible,
          Effect.exit,
          Effect.flatMap(settle),
          Effect.forkIn(scope),
          Effect.as(deferred)
        )
      })).pipe(Effect.flatMap(Deferred.await))

    /** Renews the token in the background while callers keep the current one. */
    const refresh = (slot: Slot): Effect.Effect<void> =>
      // Uninterruptible from marking the slot to forking the renewal: a caller interrupted in between
      // would leave `refreshing` set with no renewal to clear it, and no renewal would start again.
      Effect.uninterruptible(Effect.suspend(() => {
        if (slot.refreshing || slot.inflight !== undefined) return Effect.void
        slot.refreshing = true
        const attempt = Effect.clockWith((clock) => {
          const current = slot.current
          return current !== undefined && clock.unsafeCurrentTimeMillis() < current.refreshAt
            ? Effect.void
            : Effect.asVoid(shared(slot, "refresh"))
        })
        const stillUsable = () =>
          Effect.clockWith((clock) =>
            Effect.succeed(slot.current !== undefined && clock.unsafeCurrentTimeMillis() < slot.current.staleAt)
          )
        return attempt.pipe(
          Effect.retry({ schedule: refreshRetry, while: stillUsable }),
          Effect.catchAll((error) =>
            Effect.logWarning(
              `Background renewal of the token failed: ${error.message}; the current token is used until it expires`
            ).pipe(Effect.annotateLogs({ client: slot.registration.name }))
          ),
          Effect.ensuring(Effect.sync(() => {
            slot.refreshing = false
          })),
          Effect.interruptible,
          Effect.forkIn(scope),
          Effect.asVoid
        )
      }))

    // Bound once: a hit should not look through the module namespace for its counters.
    const { cacheHits, cacheMisses, forcedRenewals } = TokenService

    const acquire = (
      slot: Slot,
      parameters: TokenService.GetTokenParameters | undefined,
      now: number
    ): Effect.Effect<AccessToken, TokenError> => {
      const current = slot.current
      const rejected = parameters?.rejected
      const force = parameters?.forceRenewal === true ||
        (rejected !== undefined && current !== undefined &&
          Redacted.value(current.token.value) === Redacted.value(rejected.value))
      if (!force && current !== undefined && now < current.staleAt) {
        cacheHits.unsafeUpdate(1, slot.registration.labels)
        return now < current.refreshAt ? current.effect : Effect.zipRight(refresh(slot), current.effect)
      }
      if (force) {
        forcedRenewals.unsafeUpdate(1, slot.registration.labels)
        slot.current = undefined
      }
      cacheMisses.unsafeUpdate(1, slot.registration.labels)
      return shared(slot, force ? "force" : "acquire")
    }

    /** Forgets every token of `registration`, in process and in the `TokenCache`. */
    const forgetTokens = (registration: Registration): Effect.Effect<void> =>
      Effect.suspend(() =>
        Effect.forEach(table.drop(registration), (slot) => {
          slot.current = undefined
          return Effect.flatMap(slots.cacheKeyOf(slot), (key) => cache.remove(registration, key))
        }, { discard: true })
      )

    /** Drops a resolved definition for good: its tokens, and any it is still fetching. */
    const forget = (registration: Registration): Effect.Effect<void> =>
      Effect.suspend(() => {
        dropped.add(registration)
        return forgetTokens(registration)
      })

    /** The resolved definition of `name`; a failed resolution is not kept. */
    const resolved = (
      resolutions: Cache.Cache<string, Registration, ClientResolutionError | ClientConfigurationError>,
      name: string
    ): Effect.Effect<Registration, ClientResolutionError | ClientConfigurationError> =>
      Effect.flatMap(resolutions.getOptionComplete(name), (found) =>
        Option.isSome(found)
          ? Effect.succeed(found.value)
          // The cache runs a resolution in the fiber of its first caller and interrupts every other
          // caller waiting for it if that one is interrupted: run it in the service's scope instead.
          : resolutions.get(name).pipe(
            Effect.tapError(() => resolutions.invalidate(name)),
            Effect.forkIn(scope),
            Effect.flatMap(Fiber.join)
          ))

    /** The definition held for `name` now, resolving nothing. */
    const held = (name: string): Effect.Effect<Registration | undefined> =>
      resolutions === undefined
        ? Effect.succeed(undefined)
        : Effect.map(resolutions.getOptionComplete(name), Option.getOrUndefined)

    const tokenOf = (registration: Registration, parameters: TokenService.GetTokenParameters | undefined) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const slot = table.slot(registration, parameters, now)
        return slots.isFailure(slot) ? Effect.fail(slot) : acquire(slot, parameters, now)
      })

    // One rotation per refused definition, whatever the number of callers it was refused for.
    const rotations = new WeakMap<Registration, Deferred.Deferred<Registration, TokenError>>()

    /**
     * Resolves `name` again after its definition `refused` was refused with `invalid_client`: the
     * new definition if it changed (the old one dropped with its tokens), otherwise the refusal.
     */
    const rotate = (
      resolutions: Cache.Cache<string, Registration, ClientResolutionError | ClientConfigurationError>,
      name: string,
      refused: Registration,
      error: TokenRefusedError
    ): Effect.Effect<Registration, TokenError> =>
      Effect.uninterruptible(Effect.suspend(() => {
        const pending = rotations.get(refused)
        if (pending !== undefined) return Effect.succeed(pending)
        const deferred = Deferred.unsafeMake<Registration, TokenError>(FiberId.none)
        rotations.set(refused, deferred)
        const rotation = Effect.gen(function*() {
          // Another caller may have replaced the refused definition already: resolve only if not.
          if ((yield* held(name)) === refused) yield* resolutions.invalidate(name)
          const next = yield* resolved(resolutions, name)
          yield* forget(refused)
          if (next === refused || sameDefinition(next.client, refused.client)) return yield* Effect.fail(error)
          yield* Effect.logInfo("The client was refused with invalid_client and its definition changed: retrying")
            .pipe(Effect.annotateLogs({ client: name }))
          return next
        })
        return rotation.pipe(
          Effect.interruptible,
          Effect.exit,
          Effect.flatMap((exit) => Deferred.done(deferred, exit)),
          Effect.forkIn(scope),
          Effect.as(deferred)
        )
      })).pipe(Effect.flatMap(Deferred.await))

    /** A token for a client found by the resolver, its definition rotated once on `invalid_client`. */
    const resolvedToken = (
      resolutions: Cache.Cache<string, Registration, ClientResolutionError | ClientConfigurationError>,
      name: string,
      parameters: TokenService.GetTokenParameters | undefined
    ): Effect.Effect<AccessToken, TokenError> =>
      Effect.flatMap(resolved(resolutions, name), (registration) =>
        Effect.catchIf(
          tokenOf(registration, parameters),
          isInvalidClient,
          (error) => Effect.flatMap(rotate(resolutions, name, registration, error), (next) => tokenOf(next, parameters))
        ))

    /** The registration of `client`: registered, or held from an earlier resolution. */
    const known = (client: string | undefined): Effect.Effect<Registration, UnknownClientError> => {
      const registration = table.registration(client)
      if (!slots.isFailure(registration)) return Effect.succeed(registration)
      if (client === undefined) return Effect.fail(registration)
      return Effect.flatMap(held(client), (found) =>
        found === undefined ? Effect.fail(registration) : Effect.succeed(found))
    }

    const service: TokenService.TokenService.Service = {
      clients: table.names,
      readiness: Effect.clockWith((clock) =>
        Effect.sync(() => snapshot(table, clock.unsafeCurrentTimeMillis()))
      ),
      client: (client) => Effect.map(known(client), (registration) => registration.client),
      // Written out rather than through `slotOf`: a hit allocates nothing but the clock's callback.
      getToken: (client, parameters) => {
        const registration = table.registration(client)
        if (slots.isFailure(registration)) {
          return resolutions === undefined || client === undefined
            ? Effect.fail(registration)
            : resolvedToken(resolutions, client, parameters)
        }
        return Effect.clockWith((clock) => {
          const now = clock.unsafeCurrentTimeMillis()
          const slot = table.slot(registration, parameters, now)
          return slots.isFailure(slot) ? Effect.fail(slot) : acquire(slot, parameters, now)
        })
      },
      drop: (client) => {
        const registration = table.registration(client)
        // A registered client keeps its definition: only its tokens go.
        if (!slots.isFailure(registration)) return forgetTokens(registration)
        if (resolutions === undefined) return Effect.void
        return Effect.flatMap(held(client), (found) => {
          const last = resolution?.takeLatest(client)
          return Effect.zipRight(
            resolutions.invalidate(client),
            Effect.forEach(new Set([found, last]), (registration) =>
              registration === undefined ? Effect.void : forget(registration), { discard: true })
          )
        })
      },
      invalidate: (client, parameters) =>
        Effect.flatMap(known(client), (registration) =>
          Effect.clockWith((clock) => {
            const slot = table.slot(registration, parameters, clock.unsafeCurrentTimeMillis())
            // Parameters that could never be sent never got a token: there is nothing to forget.
            if (slots.isFailure(slot)) {
              return Effect.void
            }
            slot.current = undefined
            return Effect.flatMap(slots.cacheKeyOf(slot), (key) =>
              cache.remove(slot.registration, key))
          }))
    }
    yield* warmUp(service, options, refreshRetry, scope)
    return service
  })
