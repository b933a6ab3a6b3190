import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import type { Registration } from "./slots.js"
import type { Target } from "./tokenRequest.js"

/** The requests under way to one token endpoint, and those waiting for their turn, oldest first. */
interface Gate {
  active: number
  readonly waiting: Set<Deferred.Deferred<void>>
}

/**
 * A bound on the token requests under way at once to one token endpoint (or issuer), whatever the
 * number of clients: a cold start of many clients queues instead of flooding the authorization
 * server. Waiting takes no lock and may be interrupted; each request's wait is recorded in `wait`.
 *
 * A queue of turns rather than `Effect.Semaphore`: a semaphore's release wakes every waiter while a
 * permit looks free, and each waiter that loses the race queues again, so thousands of waiting
 * tenants cost a quadratic number of wake-ups. Here a release hands its turn to the oldest waiter.
 */
export const make = (
  limit: number,
  wait: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, Duration.Duration, MetricState.MetricState.Histogram>
) => {
  const gates = new Map<string, Gate>()

  const leave = (gate: Gate) => {
    const next = gate.waiting.values().next()
    if (next.done === true) {
      gate.active--
      return
    }
    gate.waiting.delete(next.value)
    Deferred.unsafeDone(next.value, Exit.void)
  }

  const enter = (gate: Gate): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (gate.active < limit) {
        gate.active++
        return Effect.void
      }
      const turn = Deferred.unsafeMake<void>(FiberId.none)
      gate.waiting.add(turn)
      return Effect.onInterrupt(Deferred.await(turn), () =>
        Effect.sync(() => {
          // Interrupted after its turn was handed over: pass the turn on.
          if (!gate.waiting.delete(turn)) leave(gate)
        }))
    })

  return <A, E>(registration: Registration, target: Target | undefined, request: Effect.Effect<A, E>) =>
    Effect.clockWith((clock): Effect.Effect<A, E> => {
      const client = registration.client
      const endpoint = target?.issuer ?? client.issuer ?? target?.tokenEndpoint ?? client.tokenEndpoint ?? ""
      let gate = gates.get(endpoint)
      if (gate === undefined) gates.set(endpoint, gate = { active: 0, waiting: new Set() })
      const queuedAt = clock.unsafeCurrentTimeMillis()
      const entered = gate
      // Uninterruptible between taking a turn and arranging to give it back; the wait and the
      // request themselves may be interrupted.
      return Effect.uninterruptibleMask((restore) =>
        Effect.zipRight(
          restore(enter(entered)),
          Effect.ensuring(
            restore(Effect.suspend(() => {
              wait.unsafeUpdate(Duration.millis(clock.unsafeCurrentTimeMillis() - queuedAt), registration.labels)
              return request
            })),
            Effect.sync(() => leave(entered))
          )
        )
      )
    })
}
