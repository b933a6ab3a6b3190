// @ts-nocheck
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "../AccessToken.js"
import type { TokenCache } from "../TokenCache.js"
import type { TokenEndpointClient } from "../TokenEndpointClient.js"
import type { ClientConfigurationError, TokenEndpointError, TokenError, TokenRefusedError } from "../TokenError.js"
import * as TokenMetrics from "../TokenMetrics.js"
import type * as TokenService from "../TokenService.js"
import * as clients from "./clients.js"
import { isFresh, type Mode, timed } from "./lifetime.js"
import { record } from "./readiness.js"
import * as serviceParts from "./serviceParts.js"
import * as slots from "./slots.js"
import type { Registration, Slot } from "./slots.js"
import { bind } from "./tokenBinding.js"
import { withSpanWithoutValue } from "./tracing.js"
import { warmUp } from "./warmUp.js"

const count = (counter: Metric.Metric.Counter<number>, registration: Registration) =>
  Effect.sync(() => counter.unsafeUpdate(1, registration.labels))

/** Stores a token in the `TokenCache` until it goes stale, unless its definition was dropped meanwhile. */
const store = (parts: serviceParts.Parts, registration: Registration, key: string, token: AccessToken) =>
  Effect.clockWith((clock) => {
    const timeToLive = timed(registration.lifetime, token).staleAt - clock.unsafeCurrentTimeMillis()
    return timeToLive > 0 && !parts.dropped.has(registration)
      ? parts.cache.set(registration, key, token, Duration.millis(timeToLive))
      : Effect.void
  })

/**
 * What a token request's outcome tells the rest: the counters, the `TokenCache` and the refusal
 * backoff (a token from anywhere, the `TokenCache` too, ends an episode: `fetch`). A resolved
 * client's `invalid_client` is told once its definition was resolved again (`clientResolution.ts`):
 * a secret rotated at its source is no refusal to hold the client back for.
 */
const settled = (parts: serviceParts.Parts, registration: Registration, key: string) => ({
  onFailure: (error: TokenEndpointError) =>
    Effect.zipRight(
      count(TokenMetrics.tokenRequestFailures, registration),
      error._tag === "TokenRefusedError" && error.error === "invalid_client" &&
        parts.table.registration(registration.name) !== registration
        ? Effect.void
        : parts.refusals.refused(registration, error)
    ),
  onSuccess: (token: AccessToken) => store(parts, registration, key, token)
})

/**
 * The token service: its concurrency core, on the parts of `serviceParts.ts`, behind the methods by
 * client name of `clients.ts`. A token is fetched once for all its concurrent callers (`shared`),
 * renewed in the background while callers keep the current one (`refresh`), and handed out from
 * the slot on a hit without a fiber or an allocation beyond the clock's callback (`acquire`).
 */
export const make = (
  options: TokenService.Options
): Effect.Effect<
  TokenService.TokenService.Service,
  ClientConfigurationError | TokenRefusedError,
  TokenEndpointClient | TokenCache | Scope.Scope
> =>
  Effect.gen(function*() {
    const parts = yield* serviceParts.make(options)
    const { bound, cache, endpoint, refreshRetry, scope, targetOf } = parts

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
            bound.queued(
              registration,
              target,
              Effect.zipRight(
                count(TokenMetrics.tokenRequests, registration),
                endpoint.requestToken(registration.client, slot.request, target)
              )
            )
          ),
          Effect.tapBoth(settled(parts, registration, key))
        )
        return yield* cache.coordinate(registration, key, request, fresh)
      }).pipe(
        // Bound to the definition it was requested with, from the cache or not: a later one may have another key.
        Effect.map((token) => bind(token, slot.registration.client)),
        Effect.tap(() => parts.refusals.accepted(slot.registration)),
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
      Effect.uninterruptible(Effect.clockWith((time) => {
        // A client whose credentials were refused waits out its backoff without a request.
        const refusal = parts.refusals.holding(slot.registration, time.unsafeCurrentTimeMillis())
        if (refusal !== undefined) return Effect.fail(refusal)
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

    /** Renews the token in the background while callers keep the current one; a refusal goes as a call's would. */
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
            : Effect.catchAll(
              Effect.asVoid(shared(slot, "refresh")),
              (error) => renewalFailed(slot.registration, error)
            )
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
    const { cacheHits, cacheMisses, forcedRenewals } = TokenMetrics

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

    const tokenOf = (registration: Registration, parameters: TokenService.GetTokenParameters | undefined) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const slot = parts.table.slot(registration, parameters, now)
        return slots.isFailure(slot) ? Effect.fail(slot) : acquire(slot, parameters, now)
      })

    // `refresh` reads `renewalFailed` (a resolved client's rotation): no token is asked for before it is made.
    const { renewalFailed, service } = yield* clients.make(parts, options, tokenOf)
    yield* warmUp(service, options, parts)
    return service
  })
