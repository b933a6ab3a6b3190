/**
 * What a readiness probe or a dashboard needs to know about a worker's tokens, per client and per
 * distinct token: whether a usable token is held, until when and when its renewal starts, whether a
 * renewal is under way, the last failure and why a token is not ready; the clients resolved at run
 * time, summarised. Read it with `TokenService.readiness`; reading costs the hot path nothing.
 * A worker that must not take traffic before its tokens are in hand warms them up at start.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import type * as DateTime from "effect/DateTime"
import type { TokenError } from "./TokenError.js"

/**
 * The last failed acquisition of a token: what kind of failure, when, and its message.
 *
 * @since 0.2.0
 * @category models
 */
export interface Failure {
  /** The error's tag, such as `TokenRefusedError` or `TokenTransportError`. */
  readonly tag: TokenError["_tag"]
  readonly at: DateTime.Utc
  /**
   * A short code for the kind of failure: the OAuth 2.0 error of a refusal (`invalid_client`), the
   * HTTP status of an invalid answer, the reason of a transport failure (`Connect`, `Timeout`), the
   * field of a configuration error.
   */
  readonly code: string | undefined
  /**
   * The error's message, as it is logged: it names the client and what failed, never a secret or
   * a token; what a server said is quoted with anything that looks like a credential masked.
   */
  readonly message: string
}

/**
 * Why a token is not ready:
 * - `never-tried`: no acquisition has settled, and none is under way (nothing asked for it yet, or
 *   only callers that gave up before it settled);
 * - `requesting`: no token was ever received, and the first request is under way;
 * - `failing`: no token is usable and the last acquisition failed: see `lastFailure`.
 *
 * A token that expired unused, its last acquisition a success, is ready: the next call gets a new
 * one, so there is no `expired` reason.
 *
 * @since 0.2.0
 * @category models
 */
export type Reason = "never-tried" | "requesting" | "failing"

/**
 * One distinct token of a client: its own (the client's scope, resource and parameters), or one
 * asked for with other parameters.
 *
 * @since 0.2.0
 * @category models
 */
export interface TokenState {
  readonly scope: string | undefined
  readonly resource: ReadonlyArray<string>
  /** Whether a token is held that is handed out now. */
  readonly usable: boolean
  /** When the token held stops being handed out (its expiry minus the buffer). */
  readonly usableUntil: DateTime.Utc | undefined
  /**
   * When the token held enters its refresh window (or the server's `refresh_in` hint): the first
   * call from then on renews it in the background while callers keep it.
   */
  readonly refreshFrom: DateTime.Utc | undefined
  /** Whether a request for this token is under way, in the background or for waiting callers. */
  readonly renewing: boolean
  /** When the last token was requested that the service received. */
  readonly lastSuccess: DateTime.Utc | undefined
  readonly lastFailure: Failure | undefined
  /** Failed acquisitions since the last success (or ever, if none succeeded). */
  readonly consecutiveFailures: number
  /**
   * Whether tokens flow: one is usable now, or the last acquisition succeeded (a token unused
   * until it expired is not a failure). A failed renewal leaves a token ready while it is usable.
   */
  readonly ready: boolean
  /** Why the token is not ready; `undefined` when it is. */
  readonly reason: Reason | undefined
}

/**
 * One client: whether it is ready, and the state of each of its tokens.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientReadiness {
  readonly client: string
  /** Whether the client's own token is {@link TokenState.ready}: the one warm-up acquires. */
  readonly ready: boolean
  /** Why the client's own token is not ready; `undefined` when it is. */
  readonly reason: Reason | undefined
  /** The client's own token first, then the others it holds. */
  readonly tokens: ReadonlyArray<TokenState>
}

/**
 * The last failure of a resolved client, by its name.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResolvedFailure extends Failure {
  readonly client: string
}

/**
 * The clients found by `resolveClient` whose definitions the service holds, counted: there may be
 * thousands, so they are summarised rather than listed. A client's tokens are its own and those it
 * asked for with other parameters; one never asked for is left out.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResolvedClients {
  /** Definitions held now (within `resolvedClientCapacity`, until `drop` or a new resolution). */
  readonly held: number
  /** Clients with at least one token {@link TokenState.ready} and none failing. */
  readonly ready: number
  /** Clients holding at least one usable token. */
  readonly usable: number
  /** Clients with at least one token not ready because its last acquisition failed. */
  readonly failing: number
  /**
   * The latest failure of the failing clients, newest first, at most {@link recentFailureLimit}:
   * the ones to look at first.
   */
  readonly recentFailures: ReadonlyArray<ResolvedFailure>
}

/**
 * Every client of a token service, and whether all of them are ready.
 *
 * @since 0.2.0
 * @category models
 */
export interface Readiness {
  /**
   * Whether every registered client is ready and, under `resolvedClientReadiness`, the resolved
   * clients are too.
   */
  readonly ready: boolean
  /** The registered clients. */
  readonly clients: ReadonlyArray<ClientReadiness>
  /** The resolved clients, summarised; `undefined` for a service without `resolveClient`. */
  readonly resolved: ResolvedClients | undefined
}

/**
 * How many failures of resolved clients {@link ResolvedClients.recentFailures} lists.
 *
 * @since 0.2.0
 * @category constants
 */
export const recentFailureLimit = 5

/**
 * Warm-up at start, the settings of a token service that make it ready before its first call, and
 * what counts as ready.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Acquires the own tokens of these clients (`true`: of every client) while the service is built,
   * concurrently, so that the first call finds them cached. A failure is logged and retried in the
   * background on `refreshRetrySchedule` until a token arrives; see `failFast`.
   */
  readonly warmUp?: boolean | ReadonlyArray<string> | undefined
  /**
   * With `warmUp`: a failure that no retry can fix (a refusal such as `invalid_client` or
   * `unauthorized_client`, or an invalid configuration) fails the build with that error, so that the
   * process stops at start. Transient failures (transport, `5xx`, `429`) never fail it.
   */
  readonly failFast?: boolean | undefined
  /**
   * Whether the resolved clients count in {@link Readiness.ready} (with `resolveClient`):
   * - `"ignore"` (the default): they are summarised in `resolved`, not counted;
   * - `"anyReady"`: ready only if at least one held resolved client is ready, so that a worker whose
   *   every tenant fails is not ready, while one refused tenant does not take it out of service;
   * - `"noneFailing"`: ready only if at least one is ready and none is failing, for a worker whose
   *   every tenant matters.
   *
   * Either way a worker holding no resolved client is not ready: nothing shows yet that any tenant's
   * tokens flow. Until a first tenant is asked for, a probe that gates the traffic bringing tenants
   * would keep it out: use it where work arrives otherwise (a queue, a schedule).
   */
  readonly resolvedClientReadiness?: "ignore" | "anyReady" | "noneFailing" | undefined
}
