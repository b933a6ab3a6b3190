import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import type { Registration } from "./slots.js"
import type { Target } from "./tokenRequest.js"

/**
 * A bound on the token requests under way at once to one token endpoint (or issuer), whatever the
 * number of clients: a cold start of many clients queues instead of flooding the authorization
 * server. Waiting takes no lock and may be interrupted; each request's wait is recorded in `wait`.
 */
export const make = (
  limit: number,
  wait: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, Duration.Duration, MetricState.MetricState.Histogram>
) => {
  const gates = new Map<string, Effect.Semaphore>()
  return <A, E>(registration: Registration, target: Target | undefined, request: Effect.Effect<A, E>) =>
    Effect.clockWith((clock): Effect.Effect<A, E> => {
      const client = registration.client
      const endpoint = target?.issuer ?? client.issuer ?? target?.tokenEndpoint ?? client.tokenEndpoint ?? ""
      let gate = gates.get(endpoint)
      if (gate === undefined) gates.set(endpoint, gate = Effect.unsafeMakeSemaphore(limit))
      const queuedAt = clock.unsafeCurrentTimeMillis()
      return gate.withPermits(1)(Effect.suspend(() => {
        wait.unsafeUpdate(Duration.millis(clock.unsafeCurrentTimeMillis() - queuedAt), registration.labels)
        return request
      }))
    })
}
