/**
 * The token service as its users call it: each method takes a client name, finds its registration
 * (registered, or resolved at run time) and hands it to the concurrency core of `tokenService.ts`,
 * or forgets what the service holds for it.
 */
// @ts-nocheck

import * as Effect from "effect/Effect"
import type { AccessToken } from "../AccessToken.js"
import type { TokenError, UnknownClientError } from "../TokenError.js"
import type * as TokenService from "../TokenService.js"
import * as clientResolution from "./clientResolution.js"
import { snapshot } from "./readiness.js"
import type { Parts } from "./serviceParts.js"
import * as slots from "./slots.js"
import type { Registration } from "./slots.js"

export const make = (
  parts: Parts,
  options: TokenService.Options,
  /** A token for a registration, from the concurrency core. */
  tokenOf: (
    registration: Registration,
    parameters: TokenService.GetTokenParameters | undefined
  ) => Effect.Effect<AccessToken, TokenError>
): Effect.Effect<{
  readonly service: TokenService.TokenService.Service
  /** What a failed background renewal of a registration ends with: a resolved client's refusal is resolved again. */
  readonly renewalFailed: (registration: Registration, error: TokenError) => Effect.Effect<void, TokenError>
}> =>
  Effect.gen(function*() {
    const { cache, dropped, register, scope, table } = parts

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

    // Clients found at run time, one resolution per name for all concurrent callers.
    const resolveClient = options.resolveClient
    const resolution = resolveClient === undefined
      ? undefined
      : yield* clientResolution.make({
        settings: { ...options, resolveClient },
        register,
        forget,
        tokenOf,
        scope,
        refusals: parts.refusals
      })

    // The registered clients by name, found without building the `UnknownClientError` that a miss
    // of `table.registration` is: a resolved client's hot path must not pay for an error's stack.
    const registered = new Map(table.registrations.map((registration) => [registration.name, registration]))

    /** The registration of `client`: registered, or held from an earlier resolution. */
    const known = (client: string | undefined): Effect.Effect<Registration, UnknownClientError> => {
      const found = client === undefined ? undefined : registered.get(client)
      if (found !== undefined) return Effect.succeed(found)
      const registration = table.registration(client)
      if (!slots.isFailure(registration)) return Effect.succeed(registration)
      if (client === undefined || resolution === undefined) return Effect.fail(registration)
      return Effect.flatMap(resolution.held(client), (found) =>
        found === undefined ? Effect.fail(registration) : Effect.succeed(found))
    }

    const rule = options.resolvedClientReadiness
    const service: TokenService.TokenService.Service = {
      clients: table.names,
      readiness: Effect.clockWith((clock) =>
        Effect.sync(() =>
          snapshot(table, resolution?.registrations(), rule, clock.unsafeCurrentTimeMillis())
        )
      ),
      client: (client) => Effect.map(known(client), (registration) => registration.client),
      getToken: (client, parameters) => {
        if (client !== undefined) {
          const found = registered.get(client)
          if (found !== undefined) return tokenOf(found, parameters)
          if (resolution !== undefined) return resolution.token(client, parameters)
        }
        const registration = table.registration(client)
        return slots.isFailure(registration) ? Effect.fail(registration) : tokenOf(registration, parameters)
      },
      drop: (client) => {
        const found = registered.get(client)
        // A registered client keeps its definition: only its tokens go, and a refusal's backoff.
        if (found !== undefined) {
          return Effect.zipRight(Effect.sync(() => parts.refusals.end(found)), forgetTokens(found))
        }
        return resolution === undefined ? Effect.void : resolution.drop(client)
      },
      invalidate: (client, parameters) =>
        Effect.flatMap(known(client), (registration) =>
          Effect.clockWith((clock) => {
            const slot = table.slot(registration, parameters, clock.unsafeCurrentTimeMillis())
            // Parameters that could never be sent never got a token: there is nothing to forget.
            if (slots.isFailure(slot)) return Effect.void
            slot.current = undefined
            return Effect.flatMap(slots.cacheKeyOf(slot), (key) => cache.remove(slot.registration, key))
          }))
    }
    return {
      service,
      // Without this, a resolved client's refused renewal would never reach the backoff: it would ask
      // again at every retry of `refreshRetrySchedule` for as long as the current token is usable. A
      // refusal the backoff holds back with was resolved again already; a dropped definition is let go.
      renewalFailed: (registration, error) =>
        resolution !== undefined && registered.get(registration.name) !== registration &&
          error._tag === "TokenRefusedError" && error.error === "invalid_client" &&
          !parts.refusals.isHeld(registration, error) && !dropped.has(registration)
          ? Effect.asVoid(resolution.rotate(registration, error))
          : Effect.fail(error)
    }
  })
