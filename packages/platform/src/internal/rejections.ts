/**
 * The guard against `401` storms: which renewals after a `401` may go to the token endpoint.
 *
 * A token revoked once is renewed on its first `401`, at once. When the API rejects tokens that
 * were renewed after a `401` and not yet accepted by anything (a misconfigured audience, say), no
 * renewal can help: further renewals back off on a schedule until the API accepts a token again,
 * and the `401` goes back to the caller meanwhile. Without this, every call to such an API costs a
 * token request.
 */
import type * as AccessToken from "@access-token/core/AccessToken"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"

/** A run of `401`s to freshly renewed tokens, and where the backoff is. */
interface Episode {
  /** The schedule's state after its last step. */
  state: unknown
  /** The earliest time of the next renewal after a `401`; `undefined` once the schedule is done. */
  renewAt: number | undefined
}

/** The guard of one authenticated client's token. */
export interface RejectionGuard {
  /** Whether nothing is being watched, so that an accepted response costs nothing. */
  readonly isQuiet: () => boolean
  /** A response other than `401` came back for `token`: the API accepts tokens. */
  readonly accepted: (token: AccessToken.AccessToken, origin: string) => Effect.Effect<void>
  /** A `401` came back for `token`; succeeds with whether a renewal may be requested now. */
  readonly rejected: (token: AccessToken.AccessToken, origin: string) => Effect.Effect<boolean>
  /** `token` was renewed after a `401`, and is not known to be accepted yet. */
  readonly renewed: (token: AccessToken.AccessToken) => void
}

const sameToken = (a: AccessToken.AccessToken, b: AccessToken.AccessToken): boolean =>
  // Stryker disable next-line ConditionalExpression: the same token has the same value; this skips reading it
  a === b || Redacted.value(a.value) === Redacted.value(b.value)

/** A guard whose renewals back off on `schedule` during an episode; `client` names it in the logs. */
export const make = (schedule: Schedule.Schedule<unknown>, client: string): RejectionGuard => {
  /** The last token renewed after a `401`, until a response accepts it. */
  let unproven: AccessToken.AccessToken | undefined
  let episode: Episode | undefined

  /** Steps the schedule: where the next renewal may be, or `undefined` when it is done. */
  const step = (current: Episode, now: number): Effect.Effect<Duration.Duration | undefined> =>
    Effect.map(schedule.step(now, undefined, current.state), ([state, , decision]) => {
      current.state = state
      if (ScheduleDecision.isDone(decision)) {
        current.renewAt = undefined
        return undefined
      }
      current.renewAt = Math.max(now, ScheduleIntervals.start(decision.intervals))
      return Duration.millis(current.renewAt - now)
    })

  const annotate = Effect.annotateLogs({ client })

  const rejected = (token: AccessToken.AccessToken, origin: string): Effect.Effect<boolean> =>
    Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      if (episode !== undefined) {
        const current = episode
        if (current.renewAt === undefined || now < current.renewAt) return Effect.succeed(false)
        return Effect.as(step(current, now), true)
      }
      if (unproven === undefined || !sameToken(token, unproven)) return Effect.succeed(true)
      // A token renewed after a 401 is rejected too: renewing again would not help.
      const current: Episode = { state: schedule.initial, renewAt: undefined }
      episode = current
      return step(current, now).pipe(
        Effect.tap((delay) =>
          Effect.logWarning(
            `The API at ${origin} rejects freshly renewed access tokens of client "${client}" (HTTP 401): ${
              delay === undefined
                ? "no further renewal is forced by a 401"
                : `renewals after a 401 wait ${Duration.format(delay)} and more`
            } until it accepts one; meanwhile the 401 goes back to the caller`
          ).pipe(annotate)
        ),
        Effect.map(() => (current.renewAt ?? Infinity) <= now)
      )
    })

  const accepted = (token: AccessToken.AccessToken, origin: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (unproven !== undefined && sameToken(token, unproven)) unproven = undefined
      if (episode === undefined) return Effect.void
      episode = undefined
      return Effect.logInfo(
        `The API at ${origin} accepts the access tokens of client "${client}" again; a 401 renews the token at once again`
      ).pipe(annotate)
    })

  return {
    // Stryker disable next-line ConditionalExpression: an episode starts with an unproven token, and both end together
    isQuiet: () => unproven === undefined && episode === undefined,
    accepted,
    rejected,
    renewed: (token) => {
      unproven = token
    }
  }
}
