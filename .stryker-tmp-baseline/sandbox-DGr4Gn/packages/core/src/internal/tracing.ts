// @ts-nocheck
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/**
 * A span around an effect that ends with its outcome but never holds its value. A span keeps the
 * exit it ended with, where any exporter or span processor can reach it; an access token there
 * would be one getter (`authorization`) away from whoever serialises spans.
 */
export const withSpanWithoutValue =
  (name: string, options: Tracer.SpanOptions) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let value: A
      return effect.pipe(
        Effect.tap((a) => {
          value = a
        }),
        Effect.asVoid,
        Effect.withSpan(name, options),
        Effect.map(() => value)
      )
    })
