/**
 * The backoff after a refusal of a client's credentials (`invalid_client`, `unauthorized_client`,
 * and `invalid_grant` for the JWT bearer grant): a client refused once is refused again until
 * someone changes its credentials, and an authorization server asked again on every call may lock
 * the account. During an episode the client's calls fail at once with the refusal, without a token
 * request, until the schedule's next delay has passed; a refusal then steps it further, a token
 * ends it. An episode belongs to one definition (`Registration`): a new definition of a resolved
 * client (or one resolved after `drop`) starts without one, and `drop` ends a registered client's.
 */
// @ts-nocheck

import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type { TokenError, TokenRefusedError } from "../TokenError.js"
import type { Registration } from "./slots.js"

/** A run of refusals of one definition, and where the backoff is. */
interface Episode {
  /** What calls fail with meanwhile: the last refusal. */
  error: TokenRefusedError
  /** The schedule's state after its last step. */
  state: unknown
  /** When a token request may go again; `undefined` once the schedule is done (no call is held back). */
  retryAt: number | undefined
}

/** The refusal backoff of one token service. */
export interface Refusals {
  /** The refusal the calls of `registration` fail with at `now`, without a request; `undefined` if none. */
  readonly holding: (registration: Registration, now: number) => TokenRefusedError | undefined
  /** Whether `error` is the refusal `registration`'s calls are held back with, rather than a new one. */
  readonly isHeld: (registration: Registration, error: TokenError) => boolean
  /**
   * A token request of `registration` failed with `error`: a refusal of the client's credentials
   * starts an episode (one warning) or, once the wait is over, steps it.
   */
  readonly refused: (registration: Registration, error: TokenError) => Effect.Effect<void>
  /** A token request of `registration` succeeded: its episode, if any, is over. */
  readonly accepted: (registration: Registration) => Effect.Effect<void>
  /** Ends the episode of `registration` at once (`drop`). */
  readonly end: (registration: Registration) => void
  /**
   * `schedule`, each delay lengthened to the end of `registration`'s wait: a retry the backoff would
   * fail at once, without a request, is not made.
   */
  readonly paced: <Out, In, R>(
    registration: Registration,
    schedule: Schedule.Schedule<Out, In, R>
  ) => Schedule.Schedule<Out, In, R>
}

/** A refusal that says the client's own credentials are refused, which no retry can fix. */
export const isRefusalOfClient = (registration: Registration, error: TokenError): error is TokenRefusedError =>
  error._tag === "TokenRefusedError" &&
  (error.error === "invalid_client" || error.error === "unauthorized_client" ||
    (error.error === "invalid_grant" && registration.client.grant !== undefined))

export const make = (schedule: Schedule.Schedule<unknown, TokenRefusedError>): Refusals => {
  // By definition: a definition that goes leaves nothing behind.
  const episodes = new WeakMap<Registration, Episode>()

  /** Steps the schedule at `now`: the wait before the next token request, or `undefined` once it is done. */
  const step = (episode: Episode, now: number): Effect.Effect<Duration.Duration | undefined> =>
    Effect.map(schedule.step(now, episode.error, episode.state), ([state, , decision]) => {
      episode.state = state
      if (ScheduleDecision.isDone(decision)) {
        episode.retryAt = undefined
        return undefined
      }
      episode.retryAt = Math.max(now, ScheduleIntervals.start(decision.intervals))
      return Duration.millis(episode.retryAt - now)
    })

  const refused = (registration: Registration, error: TokenError): Effect.Effect<void> =>
    Effect.clockWith((clock) => {
      if (!isRefusalOfClient(registration, error)) return Effect.void
      const now = clock.unsafeCurrentTimeMillis()
      const current = episodes.get(registration)
      if (current !== undefined) {
        // A request sent before the episode began, refused meanwhile: the wait already counts it.
        if (current.retryAt === undefined || now < current.retryAt) return Effect.void
        current.error = error
        return Effect.asVoid(step(current, now))
      }
      const episode: Episode = { error, state: schedule.initial, retryAt: undefined }
      episodes.set(registration, episode)
      return Effect.flatMap(step(episode, now), (delay) =>
        Effect.logWarning(
          `${error.message}. ${
            delay === undefined
              ? "Its calls are not held back (refusalBackoff is done)"
              : `Its calls fail at once with this refusal, without a token request, for ${
                Duration.format(delay)
              } and longer after each refusal, until a token is obtained`
          }: check the client's credentials at the authorization server; a new definition of the client, or drop("${registration.name}"), ends the wait`
        ).pipe(Effect.annotateLogs({ client: registration.name })))
    })

  const accepted = (registration: Registration): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!episodes.delete(registration)) return Effect.void
      return Effect.logInfo("The client obtained a token again after a refusal: its calls are no longer held back")
        .pipe(Effect.annotateLogs({ client: registration.name }))
    })

  return {
    holding: (registration, now) => {
      const episode = episodes.get(registration)
      return episode === undefined || episode.retryAt === undefined || now >= episode.retryAt
        ? undefined
        : episode.error
    },
    isHeld: (registration, error) => episodes.get(registration)?.error === error,
    refused,
    accepted,
    end: (registration) => {
      episodes.delete(registration)
    },
    paced: (registration, schedule) =>
      Schedule.modifyDelayEffect(schedule, (_, delay) =>
        Effect.clockWith((clock) => {
          const retryAt = episodes.get(registration)?.retryAt
          const wait = retryAt === undefined ? 0 : retryAt - clock.unsafeCurrentTimeMillis()
          return Effect.succeed(wait > Duration.toMillis(delay) ? Duration.millis(wait) : delay)
        }))
  }
}
