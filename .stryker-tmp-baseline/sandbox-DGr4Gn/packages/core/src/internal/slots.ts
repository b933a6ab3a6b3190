// @ts-nocheck
import type * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as MetricLabel from "effect/MetricLabel"
import type { AccessToken } from "../AccessToken.js"
import type { ClientCredentialsClient } from "../ClientCredentialsClient.js"
import type { RequestParameters } from "../TokenEndpointClient.js"
import { type ClientConfigurationError, type TokenError, UnknownClientError } from "../TokenError.js"
import type { Failure } from "../TokenReadiness.js"
import type { Lifetime, Timed } from "./lifetime.js"
import { cacheKey, resolve, type TokenRequest } from "./tokenRequest.js"

/**
 * The token service's local state: one registration per client, one slot per distinct token (the
 * client's own, and one per other scope, resource or parameters asked for), kept within a capacity.
 */

/** One token's local state. */
export interface Slot {
  readonly registration: Registration
  readonly request: TokenRequest
  cacheKey: string | undefined
  current: Timed | undefined
  inflight: Deferred.Deferred<AccessToken, TokenError> | undefined
  refreshing: boolean
  /** What the readiness view shows, recorded when an acquisition settles, never on a hit. */
  lastSuccessAt: number | undefined
  lastFailure: Failure | undefined
  failures: number
}

/** One client, as the service was built with it. */
export interface Registration {
  readonly name: string
  readonly client: ClientCredentialsClient
  readonly lifetime: Lifetime
  /**
   * The metric labels of this client, one array for the life of the service: counters look their
   * state up by the identity of this array, which keeps a hit at a few nanoseconds.
   */
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  /** The slot of the client's own scope, resource and parameters. */
  readonly defaultSlot: Slot
  /**
   * The key of each scope asked for alone, so that a hit resolves nothing (a JSON encoding); made on
   * the first such call, since an empty `Map` costs about 200 bytes and most clients never ask.
   */
  scopeKeys: Map<string, string> | undefined
}

const newSlot = (registration: Registration, request: TokenRequest): Slot => ({
  registration,
  request,
  cacheKey: undefined,
  current: undefined,
  inflight: undefined,
  refreshing: false,
  lastSuccessAt: undefined,
  lastFailure: undefined,
  failures: 0
})

/**
 * Registers a client, its own request resolved and its cache key computed once; its metrics are
 * labelled `client` = `label` (its name, unless the service shares one label among many clients).
 */
export const register = (
  name: string,
  client: ClientCredentialsClient,
  lifetime: Lifetime,
  label: string = name
): Effect.Effect<Registration, ClientConfigurationError> =>
  Effect.gen(function*() {
    const request = yield* resolve(client)
    const registration: { -readonly [K in keyof Registration]: Registration[K] } = {
      name,
      client,
      lifetime,
      labels: [MetricLabel.make("client", label)],
      // Set just below: the slot and its registration point at each other.
      defaultSlot: undefined as unknown as Slot,
      scopeKeys: undefined
    }
    const slot = newSlot(registration, request)
    slot.cacheKey = yield* cacheKey(client, request)
    registration.defaultSlot = slot
    return registration
  })

/** The registrations and the per-request slots of one service. */
export interface Slots {
  readonly names: ReadonlyArray<string>
  readonly registrations: ReadonlyArray<Registration>
  /** The per-request slots (not the clients' own), for the readiness view. */
  readonly requested: () => Iterable<Slot>
  /** The registration of `client`, or the only one when `client` is omitted. */
  readonly registration: (client: string | undefined) => Registration | UnknownClientError
  /**
   * The slot of the token that `parameters` ask for, created (their values resolved and checked)
   * on first use.
   */
  readonly slot: (
    registration: Registration,
    parameters: RequestParameters | undefined,
    now: number
  ) => Slot | ClientConfigurationError
  /** Removes the per-request slots of `registration`; returns them with its own slot. */
  readonly drop: (registration: Registration) => Array<Slot>
}

/**
 * Whether a lookup failed. A property check, not `instanceof`: on the error classes that costs a
 * cache hit about a fifth of its time.
 */
export const isFailure = <A extends object>(
  found: A | UnknownClientError | ClientConfigurationError
): found is UnknownClientError | ClientConfigurationError => "_tag" in found

const isIdle = (slot: Slot, now: number) =>
  slot.inflight === undefined && !slot.refreshing && (slot.current === undefined || slot.current.staleAt <= now)

/** Keeps the per-request slots of every client within `capacity`. */
export const make = (registrations: ReadonlyArray<Registration>, capacity: number): Slots => {
  const byName = new Map(registrations.map((registration) => [registration.name, registration]))
  const names = Array.from(byName.keys())
  const single = registrations.length === 1 ? registrations[0] : undefined
  const slots = new Map<string, Slot>()

  // What one eviction frees beyond the slot it makes room for: a tenth of the table, so that the pass
  // over the table it costs is paid once per `batch` misses, not on every miss of a full table.
  const batch = Math.max(1, Math.floor(capacity / 10))

  /** Makes room: idle expired slots go first, then the oldest idle ones, down to `capacity - batch`. */
  const evict = (now: number) => {
    for (const [key, slot] of slots) {
      if (isIdle(slot, now)) slots.delete(key)
    }
    for (const [key, slot] of slots) {
      if (slots.size <= capacity - batch) break
      if (slot.inflight === undefined && !slot.refreshing) slots.delete(key)
    }
  }

  const registration = (client: string | undefined): Registration | UnknownClientError =>
    (client === undefined ? single : byName.get(client)) ?? new UnknownClientError({ client, known: names })

  const slot = (
    registration: Registration,
    parameters: RequestParameters | undefined,
    now: number
  ): Slot | ClientConfigurationError => {
    if (
      parameters === undefined ||
      (parameters.scope === undefined && parameters.resource === undefined && parameters.parameters === undefined)
    ) {
      return registration.defaultSlot
    }
    const scopeOnly = parameters.resource === undefined && parameters.parameters === undefined
      ? parameters.scope
      : undefined
    const known = scopeOnly === undefined ? undefined : registration.scopeKeys?.get(scopeOnly)
    if (known !== undefined) {
      if (known === registration.defaultSlot.request.localKey) return registration.defaultSlot
      const found = slots.get(known)
      if (found !== undefined && found.registration === registration) return found
    }
    const resolved = resolve(registration.client, parameters)
    if (Either.isLeft(resolved)) return resolved.left
    const request = resolved.right
    if (scopeOnly !== undefined && known === undefined) {
      const scopeKeys = registration.scopeKeys ??= new Map()
      if (scopeKeys.size >= capacity) scopeKeys.clear()
      scopeKeys.set(scopeOnly, request.localKey)
    }
    if (request.localKey === registration.defaultSlot.request.localKey) return registration.defaultSlot
    let found = slots.get(request.localKey)
    // A slot of an earlier definition of the same client (resolved again, its secret rotated) holds
    // that definition's credentials: the local key leaves the secret out, so the identity decides.
    if (found === undefined || found.registration !== registration) {
      if (slots.size >= capacity) evict(now)
      found = newSlot(registration, request)
      slots.set(request.localKey, found)
    }
    return found
  }

  const drop = (registration: Registration): Array<Slot> => {
    const dropped = [registration.defaultSlot]
    for (const [key, slot] of slots) {
      if (slot.registration === registration) {
        slots.delete(key)
        dropped.push(slot)
      }
    }
    return dropped
  }

  return { names, registrations, requested: () => slots.values(), registration, slot, drop }
}

/** The key of `slot` in the `TokenCache`, computed (a SHA-256) once per slot. */
export const cacheKeyOf = (slot: Slot): Effect.Effect<string> =>
  slot.cacheKey !== undefined
    ? Effect.succeed(slot.cacheKey)
    : Effect.tap(cacheKey(slot.registration.client, slot.request), (key) => {
      slot.cacheKey = key
    })
