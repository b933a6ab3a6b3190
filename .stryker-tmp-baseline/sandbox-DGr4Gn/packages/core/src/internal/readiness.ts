// @ts-nocheck
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { AccessToken } from "../AccessToken.js"
import type { TokenError } from "../TokenError.js"
import * as TokenReadiness from "../TokenReadiness.js"
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
  // The message is the one the error is logged with: written to hold no secret and no token.
  slot.lastFailure = { tag: error._tag, at: DateTime.unsafeMake(now), code: codeOf(error), message: error.message }
}

const stateOf = (slot: Slot, now: number): TokenReadiness.TokenState => {
  const current = slot.current
  const usable = current !== undefined && now < current.staleAt
  const renewing = slot.inflight !== undefined || slot.refreshing
  const ready = usable || (slot.lastSuccessAt !== undefined && slot.failures === 0)
  return {
    scope: slot.request.scope,
    resource: slot.request.resource,
    usable,
    usableUntil: current === undefined ? undefined : DateTime.unsafeMake(current.staleAt),
    // The instant `lifetime.ts` decided when the token was received, which the hot path compares
    // with the clock; it may fall within a millisecond, and the clock ticks in whole ones.
    refreshFrom: current === undefined ? undefined : DateTime.unsafeMake(Math.ceil(current.refreshAt)),
    renewing,
    lastSuccess: slot.lastSuccessAt === undefined ? undefined : DateTime.unsafeMake(slot.lastSuccessAt),
    lastFailure: slot.lastFailure,
    consecutiveFailures: slot.failures,
    ready,
    // Not ready is no usable token and a failure since the last success, or no settled acquisition
    // at all: then either its first request is under way, or nothing has asked for it.
    reason: ready ? undefined : slot.failures > 0 ? "failing" : renewing ? "requesting" : "never-tried"
  }
}

/** Counts the resolved clients `resolved`, their tokens looked up in `others`. */
const summary = (
  resolved: Iterable<Registration>,
  others: Map<Registration, Array<TokenReadiness.TokenState>>,
  now: number
): TokenReadiness.ResolvedClients => {
  let [held, ready, usable, failing] = [0, 0, 0, 0]
  const failures: Array<TokenReadiness.ResolvedFailure> = []
  for (const registration of resolved) {
    held++
    const own = stateOf(registration.defaultSlot, now)
    // A resolved client's callers may only ever ask with other parameters: its own token, never
    // asked for, says nothing about it.
    const tokens = own.reason === "never-tried"
      ? others.get(registration) ?? []
      : [own, ...others.get(registration) ?? []]
    let latest: TokenReadiness.Failure | undefined
    for (const token of tokens) {
      if (token.reason !== "failing" || token.lastFailure === undefined) continue
      if (latest === undefined || DateTime.lessThan(latest.at, token.lastFailure.at)) latest = token.lastFailure
    }
    if (tokens.some((token) => token.usable)) usable++
    if (latest !== undefined) {
      failing++
      failures.push({ client: registration.name, ...latest })
    } else if (tokens.some((token) => token.ready)) {
      ready++
    }
  }
  failures.sort((a, b) => DateTime.toEpochMillis(b.at) - DateTime.toEpochMillis(a.at))
  return {
    held,
    ready,
    usable,
    failing,
    recentFailures: failures.slice(0, TokenReadiness.recentFailureLimit)
  }
}

/** Whether the resolved clients count as ready under `rule`. */
const resolvedReady = (
  rule: TokenReadiness.Options["resolvedClientReadiness"],
  resolved: TokenReadiness.ResolvedClients | undefined
): boolean => {
  if (resolved === undefined || rule === undefined || rule === "ignore") return true
  // Never by vacuous truth: a worker holding no resolved client has shown no tenant's tokens flow.
  return resolved.ready > 0 && (rule === "anyReady" || resolved.failing === 0)
}

/**
 * The readiness of every registered client and every token the service holds, and a summary of
 * the resolved clients held (`undefined` without a resolver), at `now`.
 */
export const snapshot = (
  table: Slots,
  resolvedRegistrations: Iterable<Registration> | undefined,
  rule: TokenReadiness.Options["resolvedClientReadiness"],
  now: number
): TokenReadiness.Readiness => {
  const others = new Map<Registration, Array<TokenReadiness.TokenState>>()
  for (const slot of table.requested()) {
    let states = others.get(slot.registration)
    if (states === undefined) others.set(slot.registration, states = [])
    states.push(stateOf(slot, now))
  }
  const clients = table.registrations.map((registration): TokenReadiness.ClientReadiness => {
    const own = stateOf(registration.defaultSlot, now)
    return {
      client: registration.name,
      ready: own.ready,
      reason: own.reason,
      tokens: [own, ...(others.get(registration) ?? [])]
    }
  })
  const resolved = resolvedRegistrations === undefined ? undefined : summary(resolvedRegistrations, others, now)
  return { ready: clients.every((client) => client.ready) && resolvedReady(rule, resolved), clients, resolved }
}
