/**
 * The limits every request to an authorization server shares, token requests and metadata alike:
 * one place, so that the two can never drift apart.
 */
// @ts-nocheck

import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/**
 * Exponential backoff from 200 ms with jitter, at most 3 retries (4 attempts), and no retry
 * decided more than 10 s after the first failure.
 */
export const retrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("200 millis", 2).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(3)),
  Schedule.upTo("10 seconds")
)

/** How long one attempt (connect, send, read the body) may take. */
export const requestTimeout: Duration.Duration = Duration.seconds(30)

/** The largest response body read. */
export const maxResponseBytes = 1024 * 1024
