/**
 * Asks a token endpoint for an access token with the client credentials grant (RFC 6749 §4.4),
 * retrying what can be retried on a `Schedule`.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AccessToken from "./AccessToken.js"
import * as ClientCredentialsClient from "./ClientCredentialsClient.js"
import { basicAuthorization, formBody, formUrlEncode } from "./internal/form.js"
import { maskedShape, redactText } from "./internal/redact.js"
import {
  ClientConfigurationError,
  InvalidTokenResponseError,
  isRetryable,
  type TokenEndpointError,
  TokenRefusedError,
  TokenTransportError
} from "./TokenError.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenEndpointClient extends Context.Tag("@access-token/core/TokenEndpointClient")<
  TokenEndpointClient,
  TokenEndpointClient.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenEndpointClient {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Requests a token for `client`; `parameters` replace the client's own scope and resource for
     * this request, and add to (or override) its extra parameters.
     */
    readonly requestToken: (
      client: ClientCredentialsClient.ClientCredentialsClient,
      parameters?: RequestParameters
    ) => Effect.Effect<AccessToken.AccessToken, TokenEndpointError>
  }
}

/**
 * What one request may ask for instead of the client's defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestParameters {
  readonly scope?: string | undefined
  readonly resource?: string | ReadonlyArray<string> | undefined
  readonly parameters?: Readonly<Record<string, string>> | undefined
}

/**
 * A retry policy for the token endpoint. It sees each failure as its input, so it can be narrowed
 * with `Schedule.whileInput`; failures that no retry can fix are never retried whatever it says.
 *
 * @since 0.1.0
 * @category models
 */
export type RetrySchedule = Schedule.Schedule<unknown, TokenEndpointError>

/**
 * The default retry policy: exponential backoff from 200 ms with jitter, at most 3 retries (4
 * attempts), and no retry decided more than 10 s after the first failure.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetrySchedule: RetrySchedule = Schedule.exponential("200 millis", 2).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(3)),
  Schedule.upTo("10 seconds")
)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultRequestTimeout: Duration.Duration = Duration.seconds(30)

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxResponseBytes = 1024 * 1024

/**
 * The longest wait a `Retry-After` header can impose on one retry.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxRetryAfter: Duration.Duration = Duration.seconds(60)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long one attempt (connect, send, read the body) may take; default 30 s. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The largest response body read; default 1 MiB. */
  readonly maxResponseBytes?: number | undefined
  /** The retry policy for every client; default {@link defaultRetrySchedule}. */
  readonly retrySchedule?: RetrySchedule | undefined
  /** Retry policies for some clients, by client name, in place of `retrySchedule`. */
  readonly clientRetrySchedules?: Readonly<Record<string, RetrySchedule>> | undefined
  /** The longest `Retry-After` honoured; default 60 s. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

const retryAfterOf = (error: TokenEndpointError): Duration.Duration | undefined =>
  error._tag === "TokenRefusedError" || error._tag === "InvalidTokenResponseError" ? error.retryAfter : undefined

/**
 * Completes a retry policy: only retryable failures are retried, and a `Retry-After` from the
 * server lengthens the wait to what it asks, up to `maxRetryAfter`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetryPolicy = (
  schedule: RetrySchedule,
  maxRetryAfter: Duration.Duration
): Schedule.Schedule<unknown, TokenEndpointError> =>
  schedule.pipe(
    Schedule.intersect(Schedule.identity<TokenEndpointError>()),
    Schedule.modifyDelay(([, error], delay) => {
      const retryAfter = retryAfterOf(error)
      return retryAfter === undefined ? delay : Duration.max(delay, Duration.min(retryAfter, maxRetryAfter))
    }),
    Schedule.whileInput(isRetryable)
  )

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. */
const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

const errorCode = (cause: unknown): string | undefined => {
  for (let current = cause, depth = 0; current !== null && typeof current === "object" && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const connectCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"])
const resetCodes = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"])

const transportError = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  endpoint: string,
  error: HttpClientError.HttpClientError
): TokenTransportError => {
  const code = errorCode(error.cause)
  const reason = code !== undefined && connectCodes.has(code)
    ? "Connect"
    : code !== undefined && resetCodes.has(code) || error._tag === "ResponseError"
    ? "Reset"
    : "Transport"
  const description = code ?? (error._tag === "ResponseError" ? "the response body could not be read" : error.reason)
  return new TokenTransportError({ client: client.name, reason, endpoint, description })
}

/**
 * Keeps a transport that follows redirects itself (`fetch`) from doing so: a `307` would send the
 * form, secret included, wherever it points. Other transports do not follow redirects.
 */
const withoutRedirects = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.serviceOption(FetchHttpClient.RequestInit),
    (init) =>
      Effect.provideService(effect, FetchHttpClient.RequestInit, { ...Option.getOrUndefined(init), redirect: "manual" })
  )

const decoder = new TextDecoder("utf-8", { fatal: false })

class BodyTooLarge {
  readonly _tag = "BodyTooLarge"
}

const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<string, BodyTooLarge | HttpClientError.ResponseError> => {
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > maxBytes) return Effect.fail(new BodyTooLarge())
  return Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > maxBytes) return Effect.fail(new BodyTooLarge())
        chunks.push(chunk)
        return Effect.void
      }),
      Effect.map(() => {
        const bytes = new Uint8Array(size)
        let offset = 0
        for (const chunk of chunks) {
          bytes.set(chunk, offset)
          offset += chunk.length
        }
        return decoder.decode(bytes)
      }),
      // A fetch `Response` to a 204 or 205 has no body at all: that is an empty body, not a
      // broken connection.
      Effect.catchIf(
        (error) => error._tag === "ResponseError" && error.reason === "EmptyBody",
        () => Effect.succeed("")
      )
    )
  })
}

const maxSnippet = 300

const isForm = (contentType: string | undefined): boolean =>
  contentType !== undefined && contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")

/** Parses a JSON object, or the form-urlencoded body some services (GitHub) still send. */
const parseBody = (text: string, contentType: string | undefined): Record<string, unknown> | string => {
  if (isForm(contentType)) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  if (text.trim().length === 0) return "the body is empty"
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return contentType !== undefined && contentType.toLowerCase().includes("html")
      ? "the body is an HTML page, not JSON"
      : "the body is not valid JSON"
  }
  return json !== null && typeof json === "object" && !Array.isArray(json)
    ? json as Record<string, unknown>
    : "the body is not a JSON object"
}

/** The secret as written, and as it travels on the wire, where an echoing server may show it. */
const secretForms = (client: ClientCredentialsClient.ClientCredentialsClient): ReadonlyArray<string> => {
  if (client.clientSecret === undefined) return []
  const secret = Redacted.value(client.clientSecret)
  return [secret, formUrlEncode(secret), basicAuthorization(client.clientId, secret).slice("Basic ".length)]
}

const optionalText = (value: unknown, secrets: ReadonlyArray<string>): string | undefined =>
  typeof value === "string" ? redactText(value, secrets, maxSnippet) : undefined

const decodeTokenResponse = Schema.decodeUnknownEither(AccessToken.TokenResponse, { errors: "all" })

/** Describes what is wrong with a response without quoting any value of it. */
const describeIssues = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
    const field = issue.path.map(String).join(".")
    return issue._tag === "Missing"
      ? `${field} is missing`
      : `${field} ${issue.message.startsWith("must") ? issue.message : "has the wrong type"}`
  }).join("; ")

const interpret = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  response: HttpClientResponse.HttpClientResponse,
  text: string,
  sentAt: number,
  now: number
): Either.Either<AccessToken.AccessToken, TokenRefusedError | InvalidTokenResponseError> => {
  const secrets = secretForms(client)
  const status = response.status
  const contentType = response.headers["content-type"]
  const retryAfter = status === 429 || status === 503 || status === 408
    ? parseRetryAfter(response.headers["retry-after"], now)
    : undefined
  const invalid = (reason: string) => {
    const shape = status >= 200 && status < 300 ? maskedShape(text, isForm(contentType)) : undefined
    return Either.left(
      new InvalidTokenResponseError({
        client: client.name,
        status,
        contentType,
        reason,
        body: redactText(shape ?? text, secrets, maxSnippet),
        retryAfter
      })
    )
  }
  const body = parseBody(text, contentType)
  if (typeof body !== "string" && typeof body.error === "string") {
    return Either.left(
      new TokenRefusedError({
        client: client.name,
        status,
        error: redactText(body.error, secrets, 100),
        errorDescription: optionalText(body.error_description, secrets),
        errorUri: optionalText(body.error_uri, secrets),
        retryAfter
      })
    )
  }
  if (status < 200 || status >= 300) {
    return invalid(
      status >= 300 && status < 400
        ? `HTTP ${status}: the token endpoint redirects, and redirects are not followed so that the credentials go nowhere else`
        : `HTTP ${status} without an OAuth 2.0 error response`
    )
  }
  if (typeof body === "string") return invalid(body)
  const decoded = decodeTokenResponse(body)
  if (Either.isLeft(decoded)) return invalid(describeIssues(decoded.left))
  return Either.right(AccessToken.fromResponse(decoded.right, DateTime.unsafeMake(sentAt)))
}

const configurationError = (client: string, field: string, reason: string) =>
  Either.left(new ClientConfigurationError({ client, field, reason }))

/**
 * Builds the form body of a client credentials request, in a fixed order: `grant_type`, then
 * `client_id` and `client_secret` where they go in the body, `scope`, each `resource`, the extra
 * parameters.
 *
 * @since 0.1.0
 * @category encoding
 */
export const requestBody = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  parameters?: RequestParameters
): Either.Either<string, ClientConfigurationError> => {
  const pairs: Array<readonly [string, string]> = [["grant_type", "client_credentials"]]
  if (client.clientSecret === undefined || client.credentialStyle === "body") {
    pairs.push(["client_id", client.clientId])
  }
  if (client.clientSecret !== undefined && client.credentialStyle === "body") {
    pairs.push(["client_secret", Redacted.value(client.clientSecret)])
  }
  const scope = parameters?.scope ?? client.scope
  if (scope !== undefined) {
    if (Either.isLeft(Schema.decodeUnknownEither(ClientCredentialsClient.Scope)(scope))) {
      return configurationError(client.name, "scope", "must be scope tokens separated by single spaces (RFC 6749 §3.3)")
    }
    pairs.push(["scope", scope])
  }
  const resource = parameters?.resource ?? client.resource
  for (const indicator of typeof resource === "string" ? [resource] : resource ?? []) {
    if (Either.isLeft(Schema.decodeUnknownEither(ClientCredentialsClient.ResourceIndicator)(indicator))) {
      return configurationError(client.name, "resource", "must be an absolute URI without a fragment (RFC 8707)")
    }
    pairs.push(["resource", indicator])
  }
  const extra = { ...client.parameters, ...parameters?.parameters }
  for (const name of Object.keys(extra)) {
    if (ClientCredentialsClient.reservedParameters.has(name)) {
      return configurationError(client.name, `parameters.${name}`, "may not be set as an extra parameter")
    }
    pairs.push([name, extra[name]])
  }
  return Either.right(formBody(pairs))
}

/**
 * Builds the HTTP request for `client`: a form `POST` to the token endpoint, with
 * `client_secret_basic` credentials in the `Authorization` header unless the client sends them in
 * the body.
 *
 * @since 0.1.0
 * @category encoding
 */
export const makeRequest = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  parameters?: RequestParameters
): Either.Either<HttpClientRequest.HttpClientRequest, ClientConfigurationError> =>
  Either.flatMap(
    ClientCredentialsClient.checkTransport(client),
    () =>
      Either.map(requestBody(client, parameters), (body) => {
        const request = HttpClientRequest.post(client.tokenEndpoint).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyText(body, "application/x-www-form-urlencoded")
        )
        return client.clientSecret !== undefined && client.credentialStyle === "header"
          ? HttpClientRequest.setHeader(
            request,
            "authorization",
            basicAuthorization(client.clientId, Redacted.value(client.clientSecret))
          )
          : request
      })
  )

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<TokenEndpointClient.Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    // Each attempt runs in a scope of its own (`Effect.scoped` below): when it ends, however it
    // ends, the request and any body left unread are aborted, not left to the garbage collector.
    const httpClient = HttpClient.withScope(yield* HttpClient.HttpClient)
    const timeout = Duration.decode(options?.requestTimeout ?? defaultRequestTimeout)
    const maxBytes = options?.maxResponseBytes ?? defaultMaxResponseBytes
    const maxRetryAfter = Duration.decode(options?.maxRetryAfter ?? defaultMaxRetryAfter)
    const defaultPolicy = withRetryPolicy(options?.retrySchedule ?? defaultRetrySchedule, maxRetryAfter)
    const clientPolicies = new Map(
      Object.entries(options?.clientRetrySchedules ?? {}).map(([name, schedule]) => [
        name,
        withRetryPolicy(schedule, maxRetryAfter)
      ])
    )

    const attempt = (
      client: ClientCredentialsClient.ClientCredentialsClient,
      request: HttpClientRequest.HttpClientRequest,
      endpoint: string
    ): Effect.Effect<AccessToken.AccessToken, TokenEndpointError> =>
      // The lifetime counts from when the request was sent: `expires_in` starts at the server, so
      // counting from the answer would stretch the token by the time the answer took.
      Effect.clockWith((clock) => Effect.succeed(clock.unsafeCurrentTimeMillis())).pipe(
        Effect.flatMap((sentAt) =>
          withoutRedirects(httpClient.execute(request)).pipe(
            Effect.flatMap((response) =>
              readBody(response, maxBytes).pipe(
                Effect.flatMap((text) =>
                  Effect.clockWith((clock) =>
                    interpret(client, response, text, sentAt, clock.unsafeCurrentTimeMillis())
                  )
                ),
                Effect.catchTag("BodyTooLarge", () =>
                  Effect.fail(
                    new InvalidTokenResponseError({
                      client: client.name,
                      status: response.status,
                      contentType: response.headers["content-type"],
                      reason: `the body is larger than ${maxBytes} bytes`,
                      body: ""
                    })
                  ))
              )
            ),
            Effect.scoped,
            Effect.catchTags({
              RequestError: (error) => Effect.fail(transportError(client, endpoint, error)),
              ResponseError: (error) => Effect.fail(transportError(client, endpoint, error))
            }),
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () =>
                new TokenTransportError({
                  client: client.name,
                  reason: "Timeout",
                  endpoint,
                  description: `no complete answer within ${Duration.format(timeout)}`
                })
            })
          )
        )
      )

    const requestToken = (
      client: ClientCredentialsClient.ClientCredentialsClient,
      parameters?: RequestParameters
    ): Effect.Effect<AccessToken.AccessToken, TokenEndpointError> => {
      const request = makeRequest(client, parameters)
      if (Either.isLeft(request)) return Effect.fail(request.left)
      const url = new URL(client.tokenEndpoint)
      const endpoint = `${url.origin}${url.pathname}`
      return attempt(client, request.right, endpoint).pipe(
        Effect.retry(clientPolicies.get(client.name) ?? defaultPolicy),
        Effect.tapBoth({
          onFailure: (error) => Effect.annotateCurrentSpan("outcome", error._tag),
          onSuccess: () => Effect.annotateCurrentSpan("outcome", "success")
        }),
        Effect.withSpan("TokenEndpointClient.requestToken", {
          kind: "client",
          attributes: {
            "oauth.client.name": client.name,
            "server.address": url.hostname,
            "url.path": url.pathname
          }
        })
      )
    }

    return TokenEndpointClient.of({ requestToken })
  })

/**
 * The token endpoint client on the `HttpClient` of the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TokenEndpointClient, never, HttpClient.HttpClient> =>
  Layer.effect(TokenEndpointClient, make(options))

/**
 * A token endpoint client that answers from a function, for tests of code that needs tokens.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  requestToken: TokenEndpointClient.Service["requestToken"]
): Layer.Layer<TokenEndpointClient> => Layer.succeed(TokenEndpointClient, TokenEndpointClient.of({ requestToken }))
