import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { AccessToken } from "../AccessToken.js"
import type { TokenError } from "../TokenError.js"
import type * as TokenReadiness from "../TokenReadiness.js"
import type { Registration, Slot, Slots } from "./slots.js"

/**
 * The readiness view: what each acquisition ended in is recorded on its slot when it settles (so a
 * hit pays nothing), and read into a snapshot on demand.
 */

/** A short code for a failure that quotes nothing a server or a definition said beyond its kind. */
const codeOf = (error: TokenError): string | undefined => {
  switch (error._tag) {
    case "TokenRefusedError":
      return error.error
    case "InvalidTokenResponseError":
      return String(error.status)
    case "TokenTransportError":
      return error.reason
    case "ClientConfigurationError":
      return error.field
    default:
      return "reason" in error && typeof error.reason === "string" ? error.reason : undefined
  }
}

/** Records how an acquisition of `slot` ended, at `now`. */
export const record = (slot: Slot, exit: Exit.Exit<AccessToken, TokenError>, now: number): void => {
  if (Exit.isSuccess(exit)) {
    slot.lastSuccessAt = DateTime.toEpochMillis(exit.value.receivedAt)
    slot.failures = 0
    return
  }
  const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
  // An interruption is no failure of the token's: its request was cancelled with the service.
  if (error === undefined) return
  slot.failures++
  slot.lastFailure = { tag: error._tag, at: DateTime.unsafeMake(now), code: codeOf(error) }
}

const stateOf = (slot: Slot, now: number): TokenReadiness.TokenState => {
  const current = slot.current
  const usable = current !== undefined && now < current.staleAt
  return {
    scope: slot.request.scope,
    resource: slot.request.resource,
    usable,
    usableUntil: current === undefined ? undefined : DateTime.unsafeMake(current.staleAt),
    renewing: slot.inflight !== undefined || slot.refreshing,
    lastSuccess: slot.lastSuccessAt === undefined ? undefined : DateTime.unsafeMake(slot.lastSuccessAt),
    lastFailure: slot.lastFailure,
    consecutiveFailures: slot.failures,
    ready: usable || (slot.lastSuccessAt !== undefined && slot.failures === 0)
  }
}

/** The readiness of every client and every token the service holds, at `now`. */
export const snapshot = (table: Slots, now: number): TokenReadiness.Readiness => {
  const others = new Map<Registration, Array<TokenReadiness.TokenState>>()
  for (const slot of table.requested()) {
    let states = others.get(slot.registration)
    if (states === undefined) others.set(slot.registration, states = [])
    states.push(stateOf(slot, now))
  }
  const clients = table.registrations.map((registration): TokenReadiness.ClientReadiness => {
    const own = stateOf(registration.defaultSlot, now)
    return { client: registration.name, ready: own.ready, tokens: [own, ...(others.get(registration) ?? [])] }
  })
  return { ready: clients.every((client) => client.ready), clients }
}
