/**
 * Clients found at run time: one resolution per name for all concurrent callers, kept for a time
 * to live in a bounded `effect/Cache`; a failure is kept for no time at all, so the next call
 * resolves again. A definition refused with `invalid_client` is resolved again once, for all the
 * callers it was refused for.
 */
import * as Cache from "effect/Cache"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { AccessToken } from "../AccessToken.js"
import * as ClientResolver from "../ClientResolver.js"
import {
  type ClientConfigurationError,
  ClientResolutionError,
  type TokenError,
  type TokenRefusedError
} from "../TokenError.js"
import type * as TokenService from "../TokenService.js"
import { sameDefinition } from "./definition.js"
import { carry } from "./readiness.js"
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
  /** Forgets the definitions of `name`: the one held, and the last one resolved. */
  readonly drop: (name: string) => Effect.Effect<void>
}

/** A refusal of the client's credentials: for a resolved client, its definition may have been rotated. */
const isInvalidClient = (error: TokenError): error is TokenRefusedError =>
  error._tag === "TokenRefusedError" && error.error === "invalid_client"

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
}): Effect.Effect<ClientResolution> =>
  Effect.gen(function*() {
    const { forget, register, scope, settings, tokenOf } = options
    const capacity = Math.max(1, settings.resolvedClientCapacity ?? ClientResolver.defaultCapacity)
    const timeToLive = Duration.decode(settings.resolvedClientTimeToLive ?? ClientResolver.defaultTimeToLive)
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
    // The last definition resolved for each name, even once the cache let it go: a definition
    // resolved again after its time to live that changed (a secret rotated at its source) drops the
    // tokens of the old one, which the `TokenCache` holds under the same key.
    const latest = new Map<string, Registration>()
    const replaced = (name: string, registration: Registration): Effect.Effect<Registration> =>
      Effect.suspend(() => {
        const previous = latest.get(name)
        latest.delete(name)
        latest.set(name, registration)
        if (latest.size > capacity) latest.delete(latest.keys().next().value!)
        return previous === undefined || sameDefinition(previous.client, registration.client)
          ? Effect.succeed(carry(previous, registration))
          : Effect.as(forget(previous), registration)
      })
    const resolutions = yield* Cache.makeWith({
      capacity,
      lookup: (name: string) =>
        Effect.suspend(() => settings.resolveClient(name)).pipe(
          Effect.mapError((cause) => new ClientResolutionError({ client: name, cause })),
          Effect.flatMap((input) => register(name, input, labelOf(name))),
          Effect.flatMap((registration) => replaced(name, registration))
        ),
      timeToLive: (exit) => Exit.isSuccess(exit) ? timeToLive : Duration.zero
    })

    /** The resolved definition of `name`; a failed resolution is not kept. */
    const resolved = (name: string): Effect.Effect<Registration, ClientResolutionError | ClientConfigurationError> =>
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

    const held = (name: string): Effect.Effect<Registration | undefined> =>
      Effect.map(resolutions.getOptionComplete(name), Option.getOrUndefined)

    // One rotation per refused definition, whatever the number of callers it was refused for.
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
          if ((yield* held(name)) === refused) yield* resolutions.invalidate(name)
          const next = yield* resolved(name)
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

    return {
      held,
      registrations: () => latest.values(),
      token: (name, parameters) =>
        Effect.flatMap(resolved(name), (registration) =>
          Effect.catchIf(
            tokenOf(registration, parameters),
            isInvalidClient,
            (error) => Effect.flatMap(rotate(name, registration, error), (next) => tokenOf(next, parameters))
          )),
      drop: (name) =>
        Effect.flatMap(held(name), (found) => {
          const last = latest.get(name)
          latest.delete(name)
          return Effect.zipRight(
            resolutions.invalidate(name),
            Effect.forEach(
              new Set([found, last]),
              (registration) => registration === undefined ? Effect.void : forget(registration),
              { discard: true }
            )
          )
        })
    }
  })
