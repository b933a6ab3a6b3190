/**
 * Clients found at run time: one resolution per name for all concurrent callers, kept for a time
 * to live in a bounded `effect/Cache`; a failure is kept for no time at all, so the next call
 * resolves again.
 */
import * as Cache from "effect/Cache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { type ClientConfigurationError, ClientResolutionError } from "../TokenError.js"
import type * as TokenService from "../TokenService.js"
import { sameDefinition } from "./definition.js"
import type { Registration } from "./slots.js"

/** The resolutions of one token service. */
export type Resolutions = Cache.Cache<string, Registration, ClientResolutionError | ClientConfigurationError>

/** The resolutions, and the last definition resolved for each name, even once the cache let it go. */
export interface ClientResolution {
  readonly resolutions: Resolutions
  /** The last definition resolved for `name`, which is forgotten. */
  readonly takeLatest: (name: string) => Registration | undefined
}

export const make = (options: {
  readonly resolveClient: (name: string) => Effect.Effect<TokenService.ClientInput, unknown>
  readonly capacity: number
  readonly timeToLive: Duration.Duration
  readonly register: (
    name: string,
    input: TokenService.ClientInput
  ) => Effect.Effect<Registration, ClientConfigurationError>
  /** Drops a definition that was replaced, with its tokens. */
  readonly forget: (registration: Registration) => Effect.Effect<void>
}): Effect.Effect<ClientResolution> => {
  const { capacity, forget, register, resolveClient, timeToLive } = options
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
        ? Effect.succeed(registration)
        : Effect.as(forget(previous), registration)
    })
  const takeLatest = (name: string) => {
    const last = latest.get(name)
    latest.delete(name)
    return last
  }
  return Effect.map(
    Cache.makeWith({
      capacity,
      lookup: (name: string) =>
        Effect.suspend(() => resolveClient(name)).pipe(
          Effect.mapError((cause) => new ClientResolutionError({ client: name, cause })),
          Effect.flatMap((input) => register(name, input)),
          Effect.flatMap((registration) => replaced(name, registration))
        ),
      timeToLive: (exit) => Exit.isSuccess(exit) ? timeToLive : Duration.zero
    }),
    (resolutions): ClientResolution => ({ resolutions, takeLatest })
  )
}
