// @ts-nocheck
import type * as HttpClient from "@effect/platform/HttpClient"

/** The two stages every `HttpClient` is made of, as `@effect/platform`'s own combinators use them. */
export interface Stages<E, R> {
  readonly preprocess: HttpClient.HttpClient.Preprocess<E, R>
  readonly postprocess: HttpClient.HttpClient.Postprocess<E, R>
}

/**
 * The stages of `client`. `@effect/platform` keeps them as fields of every client it makes
 * (`HttpClient.makeWith`) without exporting an accessor; the middleware needs them to send a request
 * again (after a `401`, or to follow a redirect) without running the caller's preprocessing twice.
 * `test/stages.test.ts` fails if that shape changes.
 */
export const stages = <E, R>(client: HttpClient.HttpClient.With<E, R>): Stages<E, R> =>
  client as unknown as Stages<E, R>
