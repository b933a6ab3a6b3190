/**
 * When a token counts as expired, and when it is renewed: the settings of a token's life in the
 * service, with their defaults. A token is handed out until its expiry less the expiration buffer,
 * and renewed in the background once it enters its refresh window, so that callers rarely wait;
 * a failed renewal is retried while the current token is still usable. The core README draws it.
 * A client whose credentials are refused is held back on `refusalBackoff` before it asks again.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { Schedule } from "effect"
 *
 * // Hand tokens out until 2 minutes before their expiry, renew them 5 minutes before that, and
 * // retry a failed renewal every 10 seconds.
 * const options: TokenService.Options = {
 *   clients: {},
 *   expirationBuffer: "2 minutes",
 *   refreshWindow: { margin: "5 minutes" },
 *   refreshRetrySchedule: Schedule.spaced("10 seconds")
 * }
 * ```
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import type { TokenError, TokenRefusedError } from "./TokenError.js"

/**
 * When a token enters its refresh window: the last `fraction` of its usable lifetime, or a fixed
 * `margin` before it counts as expired.
 *
 * @since 0.2.0
 * @category models
 */
export type RefreshWindow =
  | { readonly fraction: number }
  | { readonly margin: Duration.DurationInput }

/**
 * The lifetime settings of a token service (the first two may also be set per client).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How long before its expiry a token counts as expired (default 60 s), counted from the expiry less
   * the second a server's whole-second `exp` may take off. For a short-lived token it is capped at a
   * quarter of what is left, so that the token is still cached; a 1 s token has nothing left and goes
   * only to the callers that waited for its request. A client may set its own.
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
  /**
   * How long a client whose credentials were refused (`invalid_client`, `unauthorized_client`, or
   * `invalid_grant` for the JWT bearer grant) is held back (default {@link defaultRefusalBackoff}):
   * meanwhile its calls fail at once with the refusal, without a token request; each delay is the
   * wait before its next token request, stepped at each refusal after it. A token, `drop` or a new
   * definition of a resolved client ends the wait; a schedule that is done holds nothing back
   * (`Schedule.stop` turns the backoff off).
   */
  readonly refusalBackoff?: Schedule.Schedule<unknown, TokenRefusedError> | undefined
}

/**
 * How long before its expiry a token counts as expired, unless set: 60 seconds.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultExpirationBuffer: Duration.Duration = Duration.seconds(60)

/**
 * How long a token sent without `expires_in` is used, unless set: 5 minutes.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultLifetime: Duration.Duration = Duration.minutes(5)

/**
 * When a token is renewed, unless set: in the last third of its usable lifetime.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRefreshWindow: RefreshWindow = { fraction: 1 / 3 }

/**
 * Retries of a failed background renewal: exponential from 1 s, capped at 30 s between tries,
 * for as long as the current token is usable.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRefreshRetrySchedule: Schedule.Schedule<unknown, TokenError> = Schedule.exponential("1 second")
  .pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(30)))
  )

/**
 * The default backoff after a refusal of a client's credentials: exponential from 5 s with jitter,
 * at most 5 minutes apart, so that a refused credential costs the authorization server one request
 * every 5 minutes at most, and an identity provider that locks accounts after repeated failures sees
 * a handful, not one per call.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRefusalBackoff: Schedule.Schedule<unknown, TokenRefusedError> = Schedule.exponential("5 seconds")
  .pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.minutes(5)))
  )
