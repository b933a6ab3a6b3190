/**
 * Warm-up: the tokens of some clients acquired while the token service is built, so that the first
 * API call never waits, and fail-fast on the failures no retry can fix.
 */
// @ts-nocheck

import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { ClientConfigurationError, isRetryable, type TokenError, type TokenRefusedError } from "../TokenError.js"
import type * as TokenService from "../TokenService.js"
import type { Parts } from "./serviceParts.js"
import * as slots from "./slots.js"

/** A failure no retry can fix: the client's credentials or definition are wrong. */
const isDefinite = (error: TokenError): error is ClientConfigurationError | TokenRefusedError =>
  error._tag === "ClientConfigurationError" || (error._tag === "TokenRefusedError" && !isRetryable(error))

/**
 * Acquires the own tokens of the clients `options.warmUp` names, concurrently, before the service is
 * handed out. A failure is logged and retried in the background until a token arrives, except a
 * definite one under `failFast`, which fails the build so that the process stops with its error.
 * A client whose credentials were refused waits out the refusal backoff, which warned once.
 */
export const warmUp = (
  service: TokenService.TokenService.Service,
  options: TokenService.Options,
  parts: Parts
): Effect.Effect<void, ClientConfigurationError | TokenRefusedError> => {
  const { refreshRetry, refusals, scope, table } = parts
  const names = options.warmUp === true ? service.clients : options.warmUp === undefined || options.warmUp === false
    ? []
    : options.warmUp
  const unknown = names.find((name) => !service.clients.includes(name))
  if (unknown !== undefined) {
    return Effect.fail(
      new ClientConfigurationError({
        client: unknown,
        field: "warmUp",
        reason: "names a client that is not registered"
      })
    )
  }
  const isFatal = (error: TokenError): error is ClientConfigurationError | TokenRefusedError =>
    options.failFast === true && isDefinite(error)
  // Each client's acquisition is retried in the service's scope until a token arrives; the build
  // waits for its first attempt only.
  const warm = (name: string) =>
    Effect.gen(function*() {
      const first = yield* Deferred.make<void, TokenError>()
      const registration = table.registration(name)
      // Every name is registered (checked above); the schedule as is if not.
      const schedule = slots.isFailure(registration) ? refreshRetry : refusals.paced(registration, refreshRetry)
      const held = (error: TokenError) => !slots.isFailure(registration) && refusals.isHeld(registration, error)
      yield* service.getToken(name).pipe(
        Effect.onExit((exit) => Deferred.done(first, Exit.asVoid(exit))),
        Effect.tapError((error) =>
          isFatal(error) || held(error) ? Effect.void : Effect.logWarning(
            `Warm-up could not get a token: ${error.message}; retrying in the background`
          ).pipe(Effect.annotateLogs({ client: name }))
        ),
        Effect.retry({ schedule, while: (error) => !isFatal(error) }),
        Effect.ignore,
        Effect.forkIn(scope)
      )
      yield* Effect.catchAll(Deferred.await(first), (error) => isFatal(error) ? Effect.fail(error) : Effect.void)
    })
  return Effect.forEach(names, warm, { concurrency: "unbounded", discard: true })
}
