/**
 * The main entry point: named clients, each token cached until shortly before it expires, one
 * token request per token whatever the concurrency, and renewal in the background ahead of expiry
 * so that callers rarely wait.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "./AccessToken.js"
import * as ClientCredentialsClient from "./ClientCredentialsClient.js"
import { TokenCache } from "./TokenCache.js"
import { TokenEndpointClient } from "./TokenEndpointClient.js"
import type * as TokenEndpointClientNs from "./TokenEndpointClient.js"
import {
  type ClientConfigurationError,
  type TokenCacheError,
  type TokenEndpointError,
  type TokenError,
  UnknownClientError
} from "./TokenError.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenService extends Context.Tag("@access-token/core/TokenService")<
  TokenService,
  TokenService.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenService {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The names of the registered clients. */
    readonly clients: ReadonlyArray<string>
    /**
     * A token for `client` (which may be omitted when exactly one client is registered): the
     * cached one while it is fresh, otherwise a new one, requested once for all concurrent
     * callers.
     */
    readonly getToken: (client?: string, parameters?: GetTokenParameters) => Effect.Effect<AccessToken, TokenError>
    /** Forgets the cached token, in process and in the `TokenCache`. */
    readonly invalidate: (
      client?: string,
      parameters?: TokenEndpointClientNs.RequestParameters
    ) => Effect.Effect<void, UnknownClientError>
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetTokenParameters extends TokenEndpointClientNs.RequestParameters {
  /**
   * Requests a new token even if a fresh one is cached. A request already under way for the same
   * token is joined rather than doubled.
   */
  readonly forceRenewal?: boolean | undefined
  /**
   * The token a resource server rejected: a new token is requested unless the cached one has
   * already replaced it, so that many rejections of one token cause one renewal.
   */
  readonly rejected?: AccessToken | undefined
}

/**
 * When a token enters its refresh window: the last `fraction` of its usable lifetime, or a fixed
 * `margin` before it counts as expired.
 *
 * @since 0.1.0
 * @category models
 */
export type RefreshWindow =
  | { readonly fraction: number }
  | { readonly margin: Duration.DurationInput }

/**
 * What one client is registered with: its definition, with optional lifetime settings of its own.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientInput = ClientCredentialsClient.Input | ClientCredentialsClient.ClientCredentialsClient

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The clients, by unique name. */
  readonly clients: Readonly<Record<string, ClientInput>>
  /**
   * How long before its expiry a token counts as expired (default 60 s). For a short-lived token it
   * is capped at a quarter of the lifetime (so the token is still cached), but kept at a second or
   * more (half the lifetime at most), since `exp` is in whole seconds. A client may set its own.
   */
  readonly expirationBuffer?: Duration.DurationInput | undefined
  /** How long a token sent without `expires_in` is used (default 5 minutes). A client may set its own. */
  readonly defaultLifetime?: Duration.DurationInput | undefined
  /** When a token is renewed in the background (default: the last third of its usable lifetime). */
  readonly refreshWindow?: RefreshWindow | undefined
  /**
   * How a failed background renewal is tried again while the current token is still usable
   * (default {@link defaultRefreshRetrySchedule}).
   */
  readonly refreshRetrySchedule?: Schedule.Schedule<unknown, TokenError> | undefined
  /** How many distinct tokens are kept in process (default 10,000). */
  readonly capacity?: number | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultExpirationBuffer: Duration.Duration = Duration.seconds(60)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultLifetime: Duration.Duration = Duration.minutes(5)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultRefreshWindow: RefreshWindow = { fraction: 1 / 3 }

/**
 * Retries of a failed background renewal: exponential from 1 s, capped at 30 s between tries,
 * for as long as the current token is usable.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRefreshRetrySchedule: Schedule.Schedule<unknown, TokenError> = Schedule.exponential("1 second")
  .pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(30)))
  )

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultCapacity = 10_000

/**
 * Local cache hits, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cacheHits = Metric.counter("access_token_cache_hits", {
  description: "Tokens served from the in-process cache",
  incremental: true
})

/**
 * Acquisitions that went past the in-process cache, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const cacheMisses = Metric.counter("access_token_cache_misses", {
  description: "Token acquisitions that went past the in-process cache",
  incremental: true
})

/**
 * Requests made to the token endpoint, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequests = Metric.counter("access_token_token_requests", {
  description: "Token requests sent to the token endpoint",
  incremental: true
})

/**
 * Token requests that failed after their retries, by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequestFailures = Metric.counter("access_token_token_request_failures", {
  description: "Token requests that failed after all retries",
  incremental: true
})

/**
 * Renewals forced by a caller (for example after a `401`), by client.
 *
 * @since 0.1.0
 * @category metrics
 */
export const forcedRenewals = Metric.counter("access_token_forced_renewals", {
  description: "Token renewals forced by a caller, such as after a 401",
  incremental: true
})

interface Timed {
  readonly token: AccessToken
  /** When the token counts as expired (its expiry minus the buffer). */
  readonly staleAt: number
  /** When a background renewal starts. */
  readonly refreshAt: number
  /** `token`, ready to hand out without allocating on every hit. */
  readonly effect: Effect.Effect<AccessToken>
}

type Mode = "acquire" | "refresh" | "force"

interface Slot {
  readonly registration: Registration
  readonly parameters: TokenEndpointClientNs.RequestParameters | undefined
  readonly localKey: string
  cacheKey: string | undefined
  current: Timed | undefined
  inflight: Deferred.Deferred<AccessToken, TokenError> | undefined
  refreshing: boolean
}

interface Registration {
  readonly name: string
  readonly client: ClientCredentialsClient.ClientCredentialsClient
  readonly expirationBuffer: number
  readonly defaultLifetime: number
  /**
   * The metric labels of this client, one array for the life of the service: counters look their
   * state up by the identity of this array, which keeps a hit at a few nanoseconds.
   */
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  defaultSlot: Slot | undefined
  /** The key of each scope asked for alone, so that a hit costs no `tokenKey` (a JSON encoding). */
  readonly scopeKeys: Map<string, string>
}

/**
 * The key that identifies one token: token endpoint, client id, client name, scope, resources and
 * extra parameters. It holds no secret.
 *
 * @since 0.1.0
 * @category keys
 */
export const tokenKey = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  parameters?: TokenEndpointClientNs.RequestParameters
): string => {
  const scope = parameters?.scope ?? client.scope ?? null
  const resource = parameters?.resource ?? client.resource ?? []
  const extra = { ...client.parameters, ...parameters?.parameters }
  return JSON.stringify([
    client.tokenEndpoint,
    client.clientId,
    client.name,
    scope,
    (typeof resource === "string" ? [resource] : [...resource]).sort(),
    Object.keys(extra).sort().map((name) => [name, extra[name]])
  ])
}

const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * The key under which a token is stored in the `TokenCache`: the client name and a SHA-256 of
 * {@link tokenKey}, short enough for any store (a file name, a Redis key).
 *
 * @since 0.1.0
 * @category keys
 */
export const cacheKey = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  parameters?: TokenEndpointClientNs.RequestParameters
): Effect.Effect<string> =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(tokenKey(client, parameters)))).pipe(
    Effect.map((digest) => `${client.name}:${hex(digest)}`)
  )

/**
 * The buffer applied to a token that lives `lifetime` ms: the configured one, but no more than a
 * quarter of the lifetime, so that short-lived tokens are still cached; and for short tokens at
 * least a second (or half the lifetime), since a JWT's `exp` is in whole seconds and the token may
 * expire up to a second before `expires_in` says.
 */
const effectiveBuffer = (configured: number, lifetime: number): number =>
  Math.min(configured, Math.max(lifetime / 4, Math.min(1000, lifetime / 2)))

const count = (counter: Metric.Metric.Counter<number>, registration: Registration) =>
  Effect.sync(() => counter.unsafeUpdate(1, registration.labels))

const refreshPoint = (window: RefreshWindow, receivedAt: number, staleAt: number): number => {
  const usable = staleAt - receivedAt
  const ahead = "fraction" in window
    ? usable * Math.min(Math.max(window.fraction, 0), 1)
    : Math.min(Duration.toMillis(Duration.decode(window.margin)), usable)
  return staleAt - ahead
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<TokenService.Service, ClientConfigurationError, TokenEndpointClient | TokenCache | Scope.Scope> =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpointClient
    const cache = yield* TokenCache
    const scope = yield* Effect.scope
    const buffer = Duration.toMillis(Duration.decode(options.expirationBuffer ?? defaultExpirationBuffer))
    const lifetime = Duration.toMillis(Duration.decode(options.defaultLifetime ?? defaultLifetime))
    const window = options.refreshWindow ?? defaultRefreshWindow
    const refreshRetry = options.refreshRetrySchedule ?? defaultRefreshRetrySchedule
    const capacity = Math.max(1, options.capacity ?? defaultCapacity)

    const registrations = new Map<string, Registration>()
    for (const [name, input] of Object.entries(options.clients)) {
      const client = yield* ClientCredentialsClient.make(input, name)
      registrations.set(name, {
        name,
        client,
        expirationBuffer: client.expirationBuffer === undefined ? buffer : Duration.toMillis(client.expirationBuffer),
        defaultLifetime: client.defaultLifetime === undefined ? lifetime : Duration.toMillis(client.defaultLifetime),
        labels: [MetricLabel.make("client", name)],
        defaultSlot: undefined,
        scopeKeys: new Map()
      })
    }
    const names = Array.from(registrations.keys())
    const single = registrations.size === 1 ? registrations.values().next().value : undefined

    const slots = new Map<string, Slot>()

    const newSlot = (
      registration: Registration,
      parameters: TokenEndpointClientNs.RequestParameters | undefined,
      localKey: string
    ): Slot => ({
      registration,
      parameters,
      localKey,
      cacheKey: undefined,
      current: undefined,
      inflight: undefined,
      refreshing: false
    })
    for (const registration of registrations.values()) {
      const slot = newSlot(registration, undefined, tokenKey(registration.client))
      slot.cacheKey = yield* cacheKey(registration.client)
      registration.defaultSlot = slot
    }

    const isIdle = (slot: Slot, now: number) =>
      slot.inflight === undefined && !slot.refreshing && (slot.current === undefined || slot.current.staleAt <= now)

    /** Keeps the per-request slots within `capacity`: idle expired ones first, then the oldest idle. */
    const evict = (now: number) => {
      for (const [key, slot] of slots) {
        if (isIdle(slot, now)) slots.delete(key)
      }
      for (const [key, slot] of slots) {
        if (slots.size < capacity) break
        if (slot.inflight === undefined && !slot.refreshing) slots.delete(key)
      }
    }

    const registrationFor = (client: string | undefined): Registration | UnknownClientError => {
      const registration = client === undefined ? single : registrations.get(client)
      return registration ?? new UnknownClientError({ client, known: names })
    }

    const slotFor = (
      registration: Registration,
      parameters: TokenEndpointClientNs.RequestParameters | undefined,
      now: number
    ): Slot => {
      if (
        parameters === undefined ||
        (parameters.scope === undefined && parameters.resource === undefined && parameters.parameters === undefined)
      ) {
        return registration.defaultSlot!
      }
      const scopeOnly = parameters.resource === undefined && parameters.parameters === undefined
        ? parameters.scope
        : undefined
      let key = scopeOnly === undefined ? undefined : registration.scopeKeys.get(scopeOnly)
      if (key === undefined) {
        key = tokenKey(registration.client, parameters)
        if (scopeOnly !== undefined) {
          if (registration.scopeKeys.size >= capacity) registration.scopeKeys.clear()
          registration.scopeKeys.set(scopeOnly, key)
        }
      }
      let slot = slots.get(key)
      if (slot === undefined) {
        if (key === registration.defaultSlot!.localKey) return registration.defaultSlot!
        if (slots.size >= capacity) evict(now)
        slot = newSlot(registration, {
          scope: parameters.scope,
          resource: parameters.resource,
          parameters: parameters.parameters
        }, key)
        slots.set(key, slot)
      }
      return slot
    }

    const timed = (registration: Registration, token: AccessToken): Timed => {
      const receivedAt = DateTime.toEpochMillis(token.receivedAt)
      let staleAt: number
      if (token.expiresAt === undefined) {
        staleAt = receivedAt + registration.defaultLifetime
      } else {
        const expiresAt = DateTime.toEpochMillis(token.expiresAt)
        staleAt = expiresAt - effectiveBuffer(registration.expirationBuffer, expiresAt - receivedAt)
      }
      const hinted = token.refreshAt === undefined ? undefined : DateTime.toEpochMillis(token.refreshAt)
      const refreshAt = hinted !== undefined && hinted < staleAt
        ? hinted
        : refreshPoint(window, receivedAt, staleAt)
      return { token, staleAt, refreshAt, effect: Effect.succeed(token) }
    }

    const logCacheFailure = (registration: Registration) => (error: TokenCacheError) =>
      Effect.logWarning(`${error.message}; carrying on without the cache`).pipe(
        Effect.annotateLogs({ client: registration.name })
      )

    const cacheKeyOf = (slot: Slot): Effect.Effect<string> =>
      slot.cacheKey !== undefined
        ? Effect.succeed(slot.cacheKey)
        : Effect.tap(cacheKey(slot.registration.client, slot.parameters), (key) => {
          slot.cacheKey = key
        })

    /** Asks the shared cache, then the token endpoint, and stores what it gets in both. */
    const fetch = (slot: Slot, mode: Mode): Effect.Effect<AccessToken, TokenEndpointError> =>
      Effect.gen(function*() {
        const registration = slot.registration
        const key = yield* cacheKeyOf(slot)
        const clock = yield* Effect.clock
        const startedAt = clock.unsafeCurrentTimeMillis()
        const isFresh = (token: AccessToken) => {
          const { refreshAt, staleAt } = timed(registration, token)
          const now = clock.unsafeCurrentTimeMillis()
          return mode === "force"
            ? DateTime.toEpochMillis(token.receivedAt) >= startedAt && staleAt > now
            : mode === "refresh"
            ? refreshAt > now
            : staleAt > now
        }
        if (mode === "force") {
          // The token being replaced may have been rejected: should its renewal fail, the next
          // caller must not find it in the cache again.
          yield* Effect.catchAll(cache.remove(key), logCacheFailure(registration))
        } else {
          const cached = yield* cache.get(key).pipe(
            Effect.catchAll((error) => Effect.as(logCacheFailure(registration)(error), Option.none()))
          )
          if (Option.isSome(cached) && isFresh(cached.value)) return cached.value
        }
        const request = count(tokenRequests, registration).pipe(
          Effect.zipRight(endpoint.requestToken(registration.client, slot.parameters)),
          Effect.tapBoth({
            onFailure: () => count(tokenRequestFailures, registration),
            onSuccess: (token) =>
              Effect.clockWith((clock) => {
                const timeToLive = timed(registration, token).staleAt - clock.unsafeCurrentTimeMillis()
                return timeToLive > 0
                  ? Effect.catchAll(cache.set(key, token, Duration.millis(timeToLive)), logCacheFailure(registration))
                  : Effect.void
              })
          })
        )
        return yield* cache.coordinate(key, request, isFresh)
      }).pipe(
        Effect.tapBoth({
          onFailure: (error) => Effect.annotateCurrentSpan("outcome", error._tag),
          onSuccess: () => Effect.annotateCurrentSpan("outcome", "success")
        }),
        Effect.withSpan("TokenService.acquire", {
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
            if (Exit.isSuccess(exit)) {
              const next = timed(slot.registration, exit.value)
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

    const acquire = (
      registration: Registration,
      parameters: GetTokenParameters | undefined
    ): Effect.Effect<AccessToken, TokenError> =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        const slot = slotFor(registration, parameters, now)
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
      })

    const getToken = (client?: string, parameters?: GetTokenParameters): Effect.Effect<AccessToken, TokenError> => {
      const registration = registrationFor(client)
      if (registration instanceof UnknownClientError) return Effect.fail(registration)
      return acquire(registration, parameters)
    }

    const invalidate = (
      client?: string,
      parameters?: TokenEndpointClientNs.RequestParameters
    ): Effect.Effect<void, UnknownClientError> => {
      const registration = registrationFor(client)
      if (registration instanceof UnknownClientError) return Effect.fail(registration)
      return Effect.clockWith((clock) => {
        const slot = slotFor(registration, parameters, clock.unsafeCurrentTimeMillis())
        slot.current = undefined
        return cacheKeyOf(slot).pipe(
          Effect.flatMap((key) => cache.remove(key)),
          Effect.catchAll(logCacheFailure(registration))
        )
      })
    }

    return TokenService.of({ clients: names, getToken, invalidate })
  })

/**
 * The token service, on the `TokenEndpointClient` and `TokenCache` of the context. Client
 * definitions are checked when the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<TokenService, ClientConfigurationError, TokenEndpointClient | TokenCache> =>
  Layer.scoped(TokenService, make(options))

/**
 * The token service with its options read from configuration, for example
 * `layerConfig({ clients: { identityserver: ClientCredentialsClient.config("IDENTITYSERVER") } })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<
  TokenService,
  ClientConfigurationError | ConfigError.ConfigError,
  TokenEndpointClient | TokenCache
> => Layer.scoped(TokenService, Effect.flatMap(Config.unwrap(options), make))

/**
 * A token for `client`, from the `TokenService` of the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getToken = (
  client?: string,
  parameters?: GetTokenParameters
): Effect.Effect<AccessToken, TokenError, TokenService> =>
  Effect.flatMap(TokenService, (service) => service.getToken(client, parameters))

/**
 * Forgets the cached token of `client`, through the `TokenService` of the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const invalidate = (
  client?: string,
  parameters?: TokenEndpointClientNs.RequestParameters
): Effect.Effect<void, UnknownClientError, TokenService> =>
  Effect.flatMap(TokenService, (service) => service.invalidate(client, parameters))
