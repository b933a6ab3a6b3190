/**
 * Clients found at run time: one resolution per name for all concurrent callers, kept for a time
 * to live, at most a capacity of them; a failure is not kept, so the next call resolves again. A
 * definition refused with `invalid_client` is resolved again once, for all the callers it was
 * refused for.
 */
// @ts-nocheck

import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "../AccessToken.js"
import * as ClientResolver from "../ClientResolver.js"
import * as DPoP from "../DPoP.js"
import {
  type ClientConfigurationError,
  ClientResolutionError,
  type TokenError,
  type TokenRefusedError
} from "../TokenError.js"
import type * as TokenService from "../TokenService.js"
import { noteGeneratedDPoPKey, sameDefinition } from "./definition.js"
import type { Refusals } from "./refusals.js"
import type { Registration } from "./slots.js"

/** The resolved clients of one token service. */
export interface ClientResolution {
  /** The definition held for `name` now, resolving nothing. */
  readonly held: (name: string) => Effect.Effect<Registration | undefined>
  /** The definitions held now, current or due to be resolved again. */
  readonly registrations: () => Iterable<Registration>
  /** A token for the client `name` resolves to, its definition rotated once on `invalid_client`. */
  readonly token: (name: string, parameters: TokenService.GetTokenParameters | undefined) => Effect.Effect<
    AccessToken,
    TokenError
  >
  /** Forgets the definitions of `name`: the one held, the one before it, and any being resolved. */
  readonly drop: (name: string) => Effect.Effect<void>
  /** Resolves the client of `refused` again, once for all, after `refused` was refused with `invalid_client`. */
  readonly rotate: (refused: Registration, error: TokenRefusedError) => Effect.Effect<Registration, TokenError>
}

type ResolutionError = ClientResolutionError | ClientConfigurationError

/**
 * A name being resolved. Each resolution owns its entry, which is the name's generation: `drop`
 * removes it, and a resolution whose entry is no longer in the table when it completes is never
 * written back; its callers get `undefined` and resolve again.
 */
interface Resolving {
  readonly _tag: "Resolving"
  readonly done: Deferred.Deferred<Registration | undefined, ResolutionError>
  /** The definition resolved before, which the new one replaces only if it changed. */
  readonly previous: Registration | undefined
}

interface Resolved {
  readonly _tag: "Resolved"
  readonly registration: Registration
  /** When it is resolved again; `-Infinity` once due (it stays, to be compared with the next one). */
  expiresAt: number
  /** Read since the last eviction pass went by: it goes to the back of the table once instead. */
  used: boolean
  /**
   * `getToken(name)`, built on the second call (a tenant asked once never pays for it): a hit on a
   * resolved client then allocates no more than a registered one's.
   */
  token: Effect.Effect<AccessToken, TokenError> | undefined
  /** `getToken(name, { scope })` by scope, built on first use; most clients never ask. */
  scoped: Map<string, Effect.Effect<AccessToken, TokenError>> | undefined
}

/** How many scopes asked for alone a resolved client keeps a built call for. */
const scopedLimit = 64

/** The scope of parameters that ask for a scope and nothing else (no renewal, no resource). */
const scopeAlone = (parameters: TokenService.GetTokenParameters): string | undefined => {
  let found = false
  for (const key in parameters) {
    if (parameters[key as keyof typeof parameters] === undefined) continue
    if (key !== "scope") return undefined
    found = true
  }
  return found ? parameters.scope : undefined
}

type Entry = Resolving | Resolved

/** A refusal of the client's credentials: for a resolved client, its definition may have been rotated. */
const isInvalidClient = (error: TokenError): error is TokenRefusedError =>
  error._tag === "TokenRefusedError" && error.error === "invalid_client"

/** Whether a definition as written asks for a DPoP key generated for the client. */
const generatesDPoPKey = (input: TokenService.ClientInput): boolean =>
  input.dpop === true ||
  (typeof input.dpop === "object" && !(input.dpop instanceof DPoP.Settings) && input.dpop.key === undefined)

export const make = (options: {
  readonly settings: ClientResolver.Options & {
    readonly resolveClient: NonNullable<ClientResolver.Options["resolveClient"]>
  }
  readonly register: (
    name: string,
    input: TokenService.ClientInput,
    label: string
  ) => Effect.Effect<Registration, ClientConfigurationError>
  /** Drops a definition that was replaced, with its tokens. */
  readonly forget: (registration: Registration) => Effect.Effect<void>
  /** A token for a definition, as for a registered client. */
  readonly tokenOf: (
    registration: Registration,
    parameters: TokenService.GetTokenParameters | undefined
  ) => Effect.Effect<AccessToken, TokenError>
  /** Where resolutions and rotations run, so that no caller's interruption cancels them for the others. */
  readonly scope: Scope.Scope
  /** The refusal backoff, which a definition refused with `invalid_client` enters once resolved again unchanged. */
  readonly refusals: Refusals
}): Effect.Effect<ClientResolution> =>
  // The clock the service is built with times its definitions, as a `TestClock` in tests: read
  // without an effect of its own, it costs a hit nothing but the reading.
  Effect.map(Effect.clock, (clock) => {
    const { forget, refusals, register, scope, settings, tokenOf } = options
    const capacity = Math.max(1, settings.resolvedClientCapacity ?? ClientResolver.defaultCapacity)
    const timeToLive = Duration.toMillis(settings.resolvedClientTimeToLive ?? ClientResolver.defaultTimeToLive)
    const resolverTimeout = Duration.decode(settings.resolverTimeout ?? ClientResolver.defaultResolverTimeout)
    // Effect keeps the state of every metric label it has seen for the life of the process: the
    // names that get labels of their own are bounded, or clients coming and going would grow the
    // heap (and a metrics backend's series) without end. A name keeps its label once it has one.
    const labelLimit = Math.max(0, settings.resolvedClientLabelLimit ?? ClientResolver.defaultLabelLimit)
    const labelled = new Set<string>()
    const labelOf = (name: string): string => {
      if (labelled.has(name)) return name
      if (labelled.size >= labelLimit) return ClientResolver.sharedLabel
      labelled.add(name)
      return name
    }

    // Forgets a definition once: its tokens' keys in the `TokenCache` are those of the definition
    // that replaced it (the key holds no secret), which may have stored its own tokens by then.
    const retired = new WeakSet<Registration>()
    const retire = (registration: Registration): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (retired.has(registration)) return Effect.void
        retired.add(registration)
        return forget(registration)
      })

    // In insertion order, oldest first. A definition due to be resolved again stays until it is, so
    // that one that changed (a secret rotated at its source) drops the tokens of the old one, which
    // the `TokenCache` holds under the same key.
    const entries = new Map<string, Entry>()

    /** Keeps the table within `capacity`: the oldest go first, unless read since the last pass. */
    const evict = () => {
      for (const [name, entry] of entries) {
        if (entries.size <= capacity) return
        if (entry._tag === "Resolving") continue
        entries.delete(name)
        if (entry.used) {
          entry.used = false
          entries.set(name, entry)
        }
      }
    }

    const resolution = (name: string): Effect.Effect<Registration, ResolutionError> =>
      Effect.suspend(() => settings.resolveClient(name)).pipe(
        Effect.mapError((cause) => new ClientResolutionError({ client: name, cause })),
        // A resolver that hangs must not hold its tenant, and every caller of it, for ever; one that
        // ignores interruption is left to finish on its own.
        Effect.disconnect,
        Effect.timeoutFail({
          duration: resolverTimeout,
          onTimeout: () => new ClientResolutionError({ client: name, reason: "TimedOut", timeout: resolverTimeout })
        }),
        // A defect, or an interruption of the resolver's own (`Effect.interrupt`), fails this resolution
        // alone: its callers get an error, not an interruption. The handler does not run when this fiber is
        // interrupted itself (the service's scope closing).
        Effect.catchAllCause((cause) =>
          Option.match(Cause.failureOption(cause), {
            onNone: () =>
              Effect.fail(new ClientResolutionError({ client: name, reason: "Died", cause: Cause.squash(cause) })),
            onSome: Effect.fail
          })
        ),
        Effect.flatMap((input) =>
          Effect.tap(register(name, input, labelOf(name)), (registration) => {
            if (generatesDPoPKey(input)) noteGeneratedDPoPKey(registration.client)
          })
        )
      )

    /** Stores what a resolution got, unless its entry was dropped meanwhile; wakes its callers. */
    const settle = (name: string, entry: Resolving, exit: Exit.Exit<Registration, ResolutionError>) =>
      Effect.suspend(() => {
        const { done, previous } = entry
        // Dropped meanwhile: what it got was never handed out, and is let go.
        if (entries.get(name) !== entry) return Deferred.succeed(done, undefined)
        if (Exit.isFailure(exit)) {
          if (previous === undefined) entries.delete(name)
          else entries.set(name, resolvedEntry(previous, -Infinity))
          return Deferred.done(done, exit)
        }
        // An unchanged definition keeps the registration it had: its tokens, in process and in the
        // `TokenCache`, and the DPoP key generated for it, to which those tokens are bound.
        const changed = previous === undefined || !sameDefinition(previous.client, exit.value.client)
        const registration = changed ? exit.value : previous
        entries.delete(name)
        entries.set(name, resolvedEntry(registration, clock.unsafeCurrentTimeMillis() + timeToLive))
        return Effect.zipRight(
          changed && previous !== undefined ? retire(previous) : Effect.void,
          Deferred.succeed(done, registration)
        )
      })

    /** Joins the resolution of `name` under way, or starts one in the service's scope. */
    const start = (name: string, now: number): Effect.Effect<Registration | Resolving["done"]> =>
      Effect.uninterruptible(Effect.suspend((): Effect.Effect<Registration | Resolving["done"]> => {
        const found = entries.get(name)
        if (found !== undefined && found._tag === "Resolving") return Effect.succeed(found.done)
        if (found !== undefined && now < found.expiresAt) return Effect.succeed(found.registration)
        const entry: Resolving = {
          _tag: "Resolving",
          done: Deferred.unsafeMake(FiberId.none),
          previous: found?.registration
        }
        entries.delete(name)
        entries.set(name, entry)
        if (entries.size > capacity) evict()
        return resolution(name).pipe(
          Effect.interruptible,
          Effect.exit,
          Effect.flatMap((exit) => settle(name, entry, exit)),
          Effect.forkIn(scope),
          Effect.as(entry.done)
        )
      }))

    /** The resolved definition of `name`; a failed resolution is not kept. */
    const resolved = (name: string): Effect.Effect<Registration, ResolutionError> =>
      Effect.suspend(() =>
        Effect.flatMap(start(name, clock.unsafeCurrentTimeMillis()), (found) =>
          Deferred.DeferredTypeId in found
            ? Effect.flatMap(Deferred.await(found), (registration) =>
              // Dropped while it was being resolved: what it read may be what the drop was for.
              registration === undefined ? resolved(name) : Effect.succeed(registration))
            : Effect.succeed(found))
      )

    /** The definition held for `name` now, if its time to live has not lapsed. */
    const current = (name: string, now: number): Registration | undefined => {
      const entry = entries.get(name)
      if (entry === undefined || entry._tag === "Resolving" || now >= entry.expiresAt) return undefined
      entry.used = true
      return entry.registration
    }

    // One rotation per refusal, whatever the number of callers it was refused for.
    const rotations = new WeakMap<Registration, Deferred.Deferred<Registration, TokenError>>()

    /**
     * Resolves `name` again after its definition `refused` was refused with `invalid_client`: the
     * new definition if it changed (the old one dropped with its tokens), otherwise the refusal.
     */
    const rotate = (name: string, refused: Registration, error: TokenRefusedError): Effect.Effect<
      Registration,
      TokenError
    > =>
      Effect.uninterruptible(Effect.suspend(() => {
        const pending = rotations.get(refused)
        if (pending !== undefined) return Effect.succeed(pending)
        const deferred = Deferred.unsafeMake<Registration, TokenError>(FiberId.none)
        rotations.set(refused, deferred)
        const rotation = Effect.gen(function*() {
          // Another caller may have replaced the refused definition already: resolve only if not.
          const entry = entries.get(name)
          if (entry !== undefined && entry._tag === "Resolved" && entry.registration === refused) {
            entry.expiresAt = -Infinity
          }
          const next = yield* resolved(name)
          if (next === refused) {
            // Refused as it stands: the backoff starts (or goes on), and calls fail at once meanwhile.
            yield* refusals.refused(refused, error)
            return yield* Effect.fail(error)
          }
          yield* retire(refused)
          yield* Effect.logInfo("The client was refused with invalid_client and its definition changed: retrying")
            .pipe(Effect.annotateLogs({ client: name }))
          return next
        })
        return rotation.pipe(
          Effect.interruptible,
          Effect.exit,
          // An unchanged definition stays in use: a later refusal of it resolves again.
          Effect.flatMap((exit) =>
            Effect.zipRight(Effect.sync(() => rotations.delete(refused)), Deferred.done(deferred, exit))
          ),
          Effect.forkIn(scope),
          Effect.as(deferred)
        )
      })).pipe(Effect.flatMap(Deferred.await))

    const tokenOrRotation = (
      name: string,
      registration: Registration,
      parameters: TokenService.GetTokenParameters | undefined
    ): Effect.Effect<AccessToken, TokenError> =>
      Effect.catchIf(
        tokenOf(registration, parameters),
        // A refusal the backoff holds the client back with was resolved again already.
        (error): error is TokenRefusedError => isInvalidClient(error) && !refusals.isHeld(registration, error),
        (error) => Effect.flatMap(rotate(name, registration, error), (next) => tokenOf(next, parameters))
      )

    /** A token for `name` once its definition is resolved (or resolved again). */
    const viaResolution = (
      name: string,
      parameters: TokenService.GetTokenParameters | undefined
    ): Effect.Effect<AccessToken, TokenError> =>
      Effect.flatMap(resolved(name), (registration) => tokenOrRotation(name, registration, parameters))

    /** A token for `parameters` from `entry`'s definition while it is held, else from a new resolution. */
    const whileHeld = (
      name: string,
      entry: Resolved,
      parameters: TokenService.GetTokenParameters | undefined
    ): Effect.Effect<AccessToken, TokenError> => {
      const hit = tokenOrRotation(name, entry.registration, parameters)
      // A fresh token in the client's own slot is handed out without a request, which no refusal
      // can follow: without the frame that catches one, a hit costs what a registered client's does.
      const fresh = parameters === undefined ? tokenOf(entry.registration, undefined) : hit
      const own = entry.registration.defaultSlot
      return Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        if (now >= entry.expiresAt) return viaResolution(name, parameters)
        entry.used = true
        return own.current !== undefined && now < own.current.staleAt ? fresh : hit
      })
    }

    const resolvedEntry = (registration: Registration, expiresAt: number): Resolved => ({
      _tag: "Resolved",
      registration,
      expiresAt,
      used: false,
      token: undefined,
      scoped: undefined
    })

    const scopedToken = (name: string, entry: Resolved, scope: string): Effect.Effect<AccessToken, TokenError> => {
      let found = entry.scoped?.get(scope)
      if (found === undefined) {
        const scoped = entry.scoped ??= new Map()
        if (scoped.size >= scopedLimit) scoped.clear()
        found = whileHeld(name, entry, { scope })
        scoped.set(scope, found)
      }
      return found
    }

    return {
      held: (name) => Effect.sync(() => current(name, clock.unsafeCurrentTimeMillis())),
      *registrations() {
        for (const entry of entries.values()) {
          const registration = entry._tag === "Resolved" ? entry.registration : entry.previous
          if (registration !== undefined) yield registration
        }
      },
      // The hot path: a definition held resolves nothing and allocates no error.
      token: (name, parameters) => {
        const entry = entries.get(name)
        if (entry !== undefined && entry._tag === "Resolved") {
          if (parameters === undefined) return entry.token ??= whileHeld(name, entry, undefined)
          const scope = scopeAlone(parameters)
          if (scope !== undefined) return scopedToken(name, entry, scope)
        }
        return Effect.suspend(() => {
          const registration = current(name, clock.unsafeCurrentTimeMillis())
          return registration !== undefined
            ? tokenOrRotation(name, registration, parameters)
            : viaResolution(name, parameters)
        })
      },
      drop: (name) =>
        Effect.suspend(() => {
          const entry = entries.get(name)
          entries.delete(name)
          const registration = entry === undefined
            ? undefined
            : entry._tag === "Resolved"
            ? entry.registration
            : entry.previous
          return registration === undefined ? Effect.void : retire(registration)
        }),
      rotate: (refused, error) => rotate(refused.name, refused, error)
    }
  })
