import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { constTrue } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AccessToken from "../AccessToken.js"
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js"
import { certificateOf } from "../MutualTls.js"
import {
  ClientConfigurationError,
  InvalidTokenResponseError,
  type TokenEndpointError,
  TokenRefusedError,
  TokenTransportError
} from "../TokenError.js"
import type { NonceStore } from "./dpopNonce.js"
import { basicAuthorization, formUrlEncode } from "./form.js"
import { fromForm, parse as parseJson } from "./json.js"
import { maskedShape, redactText } from "./redact.js"
import { withoutRedirects } from "./transport.js"

/**
 * The token endpoint's answer read and judged: the body read up to a size cap, parsed as JSON (or
 * a form), turned into a token or a typed error that quotes nothing secret the server echoed.
 */

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

const connectCodes: ReadonlySet<string | undefined> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED"
])
const resetCodes: ReadonlySet<string | undefined> = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"])

/** What went wrong on the wire, in the words of a transport error: its kind and the system's code. */
export const transportFailure = (
  error: HttpClientError.HttpClientError
): { readonly reason: "Connect" | "Reset" | "Transport"; readonly description: string } => {
  const code = errorCode(error.cause)
  const reason = connectCodes.has(code)
    ? "Connect"
    : resetCodes.has(code) || error._tag === "ResponseError"
    ? "Reset"
    : "Transport"
  const description = code ?? (error._tag === "ResponseError" ? "the response body could not be read" : error.reason)
  return { reason, description }
}

/**
 * A transport failure of a token request. A client certificate or key that the TLS library refuses
 * (an `ERR_OSSL_` code: a key that is not the certificate's, a PEM it cannot read) fails before
 * anything is sent, and would fail every attempt alike: it is the client's configuration, which
 * no retry fixes and warm-up's `failFast` stops on, not a transient transport failure.
 */
export const transportError = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  endpoint: string,
  error: HttpClientError.HttpClientError
): TokenTransportError | ClientConfigurationError => {
  const failure = transportFailure(error)
  return certificateOf(client) !== undefined && failure.description.startsWith("ERR_OSSL_")
    ? new ClientConfigurationError({
      client: client.name,
      field: "authentication",
      reason:
        `holds a certificate and key that the TLS library refuses (${failure.description}): check that the private key is the certificate's own`
    })
    : new TokenTransportError({ client: client.name, endpoint, ...failure })
}

// Stryker disable next-line StringLiteral,ObjectLiteral: an unknown encoding throws as the module loads, which
// the vitest runner counts as no failed test; without options, `fatal` is false all the same.
const decoder = new TextDecoder("utf-8", { fatal: false })

/** A body longer than the cap, announced or streamed. */
export class BodyTooLarge {
  readonly _tag = "BodyTooLarge"
}

/** Reads a body as UTF-8, up to `maxBytes`: a longer one fails as soon as it is known to be. */
export const readBody = (
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
    return fromForm(text)
  }
  if (text.trim().length === 0) return "the body is empty"
  let json: unknown
  try {
    json = parseJson(text)
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
  const token = AccessToken.fromResponse(decoded.right, DateTime.unsafeMake(sentAt))
  // Judged here, with the answer at hand, so that the error tells its status and content type.
  if (client.dpop !== undefined && token.type !== "DPoP" && !client.dpop.allowBearer) {
    return invalid(
      `token_type is ${
        redactText(token.type, secrets, 40)
      }, not DPoP: the token endpoint ignored the DPoP proof, so the token is not bound to the client's key ` +
        `(set dpop.allowBearer to accept such a token)`
    )
  }
  return Either.right(token)
}

/**
 * Reads and judges the answer to a request sent at `sentAt`: a token, a refusal, an invalid
 * response (a body over `maxBytes` among them), or the transport failure that cut the body short.
 */
export const readResponse = (
  client: ClientCredentialsClient.ClientCredentialsClient,
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number,
  sentAt: number
): Effect.Effect<
  AccessToken.AccessToken,
  TokenRefusedError | InvalidTokenResponseError | HttpClientError.ResponseError
> =>
  readBody(response, maxBytes).pipe(
    Effect.flatMap((text) =>
      Effect.clockWith((clock) => interpret(client, response, text, sentAt, clock.unsafeCurrentTimeMillis()))
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

/**
 * One exchange with the token endpoint: send the request, with no redirect followed and no
 * platform span kept, remember the server's DPoP nonce, and read the answer within the size cap
 * and the time limit.
 */
export const exchange = (options: {
  readonly timeout: Duration.Duration
  readonly maxBytes: number
  readonly nonces: NonceStore
}) => {
  const { maxBytes, nonces, timeout } = options
  return (
    client: ClientCredentialsClient.ClientCredentialsClient,
    request: HttpClientRequest.HttpClientRequest,
    endpoint: string,
    transport: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>
  ): Effect.Effect<AccessToken.AccessToken, TokenEndpointError> =>
    // The lifetime counts from when the request was sent: `expires_in` starts at the server, so
    // counting from the answer would stretch the token by the time the answer took.
    Effect.clockWith((clock) => Effect.succeed(clock.unsafeCurrentTimeMillis())).pipe(
      Effect.flatMap((sentAt) =>
        // The platform's own `http.client` span would keep the request, and with it the secret or the
        // assertion, where any exporter or span processor could reach it: the token request is
        // traced by this module's span alone, whose attributes hold neither.
        withoutRedirects(transport.execute(request)).pipe(
          Effect.locally(HttpClient.currentTracerDisabledWhen, constTrue),
          Effect.tap((response) => nonces.update(request.url, response.headers["dpop-nonce"])),
          Effect.flatMap((response) => readResponse(client, response, maxBytes, sentAt)),
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
}
