/**
 * What a readiness probe or a dashboard needs to know about a worker's tokens, per client and per
 * distinct token: whether a usable token is held and until when, whether a renewal is under way,
 * and the last failure. Read it with `TokenService.readiness`; reading costs the hot path nothing.
 * A worker that must not take traffic before its tokens are in hand warms them up at start.
 *
 * @since 0.2.0
 */
import type * as DateTime from "effect/DateTime"
import type { TokenError } from "./TokenError.js"

/**
 * The last failed acquisition of a token: what kind of failure and when. Never its message,
 * which may quote what a server said.
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
}

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
  /** The client's own token first, then the others it holds. */
  readonly tokens: ReadonlyArray<TokenState>
}

/**
 * Every client of a token service, and whether all of them are ready.
 *
 * @since 0.2.0
 * @category models
 */
export interface Readiness {
  /** Whether every client is ready. */
  readonly ready: boolean
  readonly clients: ReadonlyArray<ClientReadiness>
}

/**
 * Warm-up at start: the settings of a token service that make it ready before its first call.
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
}
