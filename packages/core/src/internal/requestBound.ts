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

/** The requests under way to one authorization server, and those waiting for their turn, oldest first. */
interface Gate {
  readonly key: string
  active: number
  readonly waiting: Set<Deferred.Deferred<void>>
}

/** The bound on concurrent token requests of one token service. */
export interface RequestBound {
  /** Runs `request` in its turn among the token requests to the same authorization server. */
  readonly queued: <A, E>(
    registration: Registration,
    target: Target | undefined,
    request: Effect.Effect<A, E>
  ) => Effect.Effect<A, E>
  /**
   * Runs `request` in its turn among the requests to the authorization server at `address` (a URL
   * keyed as a token endpoint is): an issuer's metadata retrieval, which tenants with an issuer each
   * on one host would otherwise send all at once.
   */
  readonly queuedAt: <A, E>(address: string, request: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** How many authorization servers have requests under way or waiting: all the state the bound holds. */
  readonly size: () => number
}

/**
 * The key of the bound of `tokenEndpoint`, `keyOf` applied to its URL. An endpoint that does not
 * parse (a client checks its own when it is made, so none should) is a server of its own.
 */
const keyFor = (keyOf: (tokenEndpoint: URL) => string, tokenEndpoint: string): string => {
  let url: URL
  try {
    url = new URL(tokenEndpoint)
  } catch {
    return tokenEndpoint
  }
  return keyOf(url)
}

/**
 * A bound on the token requests under way at once to one authorization server (by default, the
 * origin of the token endpoint; `keyOf` says otherwise), whatever the number of clients and of
 * token endpoint paths: a cold start of many tenants queues instead of flooding the server. Waiting
 * takes no lock and may be interrupted; each request's wait is recorded in `wait`.
 *
 * A queue of turns rather than `Effect.Semaphore`: a semaphore's release wakes every waiter while a
 * permit looks free, and each waiter that loses the race queues again, so thousands of waiting
 * tenants cost a quadratic number of wake-ups. Here a release hands its turn to the oldest waiter.
 * A gate goes with its last request, so that servers used once (a tenant's own) leave nothing.
 */
export const make = (
  limit: number,
  keyOf: (tokenEndpoint: URL) => string,
  wait: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, Duration.Duration, MetricState.MetricState.Histogram>
): RequestBound => {
  const gates = new Map<string, Gate>()

  const leave = (gate: Gate) => {
    const next = gate.waiting.values().next()
    if (next.done === true) {
      if (--gate.active === 0) gates.delete(gate.key)
      return
    }
    gate.waiting.delete(next.value)
    Deferred.unsafeDone(next.value, Exit.void)
  }

  /**
   * Takes a turn at `gate`, or waits for one (interruptibly, through `restore`). Called where
   * nothing interrupts it, so that the gate counts the request from the moment it is found.
   */
  const enter = (gate: Gate, restore: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E>) => {
    if (gate.active < limit) {
      gate.active++
      return Effect.void
    }
    const turn = Deferred.unsafeMake<void>(FiberId.none)
    gate.waiting.add(turn)
    return Effect.onInterrupt(restore(Deferred.await(turn)), () =>
      Effect.sync(() => {
        // Interrupted after its turn was handed over: pass the turn on.
        if (!gate.waiting.delete(turn)) leave(gate)
      }))
  }

  /** The gate of `key`, made when a request arrives; the request counts on it from then on. */
  const gateOf = (key: string): Gate => {
    let gate = gates.get(key)
    if (gate === undefined) gates.set(key, gate = { key, active: 0, waiting: new Set() })
    return gate
  }

  const inTurn = <A, E>(address: string, request: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    // Uninterruptible from finding the gate to arranging to leave it, so that a gate is never
    // dropped while a request counts on it; the wait and the request themselves may be interrupted.
    Effect.uninterruptibleMask((restore) => {
      const gate = gateOf(keyFor(keyOf, address))
      return Effect.zipRight(
        enter(gate, restore),
        Effect.ensuring(restore(request), Effect.sync(() => leave(gate)))
      )
    })

  const queued = <A, E>(registration: Registration, target: Target | undefined, request: Effect.Effect<A, E>) =>
    Effect.clockWith((clock): Effect.Effect<A, E> => {
      const client = registration.client
      const queuedAt = clock.unsafeCurrentTimeMillis()
      return inTurn(
        // A client has a token endpoint or an issuer (whose metadata gives the target's): none gets here.
        // Stryker disable next-line StringLiteral: any constant keys the one gate of such clients alike
        target?.tokenEndpoint ?? client.tokenEndpoint ?? client.issuer ?? "",
        Effect.suspend(() => {
          wait.unsafeUpdate(Duration.millis(clock.unsafeCurrentTimeMillis() - queuedAt), registration.labels)
          return request
        })
      )
    })

  return { queued, queuedAt: inTurn, size: () => gates.size }
}
