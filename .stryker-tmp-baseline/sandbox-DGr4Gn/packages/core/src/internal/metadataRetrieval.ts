/**
 * Retrieving an issuer's authorization server metadata over HTTP: each well-known location in
 * turn, each read bounded in size and time, the whole retried on the caller's schedule. What a
 * body means is `discovery`'s work; this module sends the requests and turns their outcomes into
 * errors.
 */
// @ts-nocheck

import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
// The public module's errors, made when a document is read, never while this module loads: the two
// import each other.
import {
  type Discovered,
  InvalidMetadataError,
  type MetadataError,
  MetadataUnavailableError,
  type RetrySchedule
} from "../AuthorizationServerMetadata.js"
import { isRetryable } from "../TokenError.js"
import * as discovery from "./discovery.js"
import { readBody, transportFailure } from "./tokenResponse.js"
import { withoutRedirects } from "./transport.js"

/** How a retrieval function reads documents: the public options with their defaults applied. */
export interface Settings {
  readonly order: ReadonlyArray<discovery.WellKnown>
  readonly timeout: Duration.Duration
  readonly maxBytes: number
  readonly retrySchedule: RetrySchedule
  readonly allowInsecureTransport: boolean
}

/** A location that holds no document, so the next one is tried. */
class NoDocument {
  readonly _tag = "NoDocument"
  constructor(readonly status: number, readonly description: string) {}
}

const transportError = (issuer: string, location: string, error: HttpClientError.HttpClientError) =>
  new MetadataUnavailableError({ issuer, locations: [location], ...transportFailure(error) })

/** A retrieval function on `client`: see `AuthorizationServerMetadata.discover` for what it does. */
export const make = (
  client: HttpClient.HttpClient,
  settings: Settings
): (issuer: string) => Effect.Effect<Discovered, MetadataError> => {
  // Each location is read in a scope of its own (`Effect.scoped` below): when it ends, however it
  // ends, the request and any body left unread are aborted.
  const httpClient = HttpClient.withScope(client)
  const { allowInsecureTransport: allowInsecure, maxBytes, order, timeout } = settings
  const policy = settings.retrySchedule.pipe(
    Schedule.whileInput((error: MetadataError) => isRetryable(error))
  )

  const interpret = (
    issuer: string,
    location: string,
    response: HttpClientResponse.HttpClientResponse,
    text: string
  ): Either.Either<Discovered, NoDocument | MetadataError> => {
    const status = response.status
    if (status < 200 || status >= 300) {
      const unavailable = new MetadataUnavailableError({
        issuer,
        reason: "Status",
        locations: [location],
        status,
        description: `HTTP ${status}`
      })
      // A status that a retry may fix fails the attempt; any other says this location has no document.
      return isRetryable(unavailable)
        ? Either.left(unavailable)
        : Either.left(
          new NoDocument(
            status,
            status >= 300 && status < 400 ? `HTTP ${status}, a redirect, which is not followed` : `HTTP ${status}`
          )
        )
    }
    const body = discovery.parseObject(text)
    if (typeof body === "string") return Either.left(new NoDocument(status, `HTTP ${status}, but ${body}`))
    return Either.map(
      discovery.decodeDocument(issuer, location, body, allowInsecure),
      (metadata) => ({ metadata, location, maxAge: discovery.maxAgeOf(response.headers["cache-control"]) })
    )
  }

  /** Reads one location. */
  const at = (issuer: string, location: string): Effect.Effect<Discovered, NoDocument | MetadataError> =>
    withoutRedirects(httpClient.execute(HttpClientRequest.get(location).pipe(HttpClientRequest.acceptJson))).pipe(
      Effect.flatMap((response) =>
        readBody(response, maxBytes).pipe(
          Effect.flatMap((text) => interpret(issuer, location, response, text)),
          Effect.catchTag("BodyTooLarge", () =>
            Effect.fail(
              new InvalidMetadataError({
                issuer,
                reason: "TooLarge",
                location,
                description: `the document is larger than ${maxBytes} bytes`
              })
            ))
        )
      ),
      Effect.scoped,
      Effect.catchTags({
        RequestError: (error) => Effect.fail(transportError(issuer, location, error)),
        ResponseError: (error) => Effect.fail(transportError(issuer, location, error))
      }),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new MetadataUnavailableError({
            issuer,
            reason: "Timeout",
            locations: [location],
            description: `no complete answer within ${Duration.format(timeout)}`
          })
      })
    )

  /** Reads the locations in order until one has a document. */
  const attempt = (issuer: string, locations: ReadonlyArray<string>): Effect.Effect<Discovered, MetadataError> => {
    const next = (index: number, misses: ReadonlyArray<NoDocument>): Effect.Effect<Discovered, MetadataError> =>
      index < locations.length
        ? Effect.catchTag(at(issuer, locations[index]), "NoDocument", (miss) => next(index + 1, [...misses, miss]))
        : Effect.fail(
          new MetadataUnavailableError({
            issuer,
            reason: "Status",
            locations,
            status: misses[misses.length - 1]?.status,
            description: misses.map((miss) => miss.description).join("; then ")
          })
        )
    return next(0, [])
  }

  return (issuer: string): Effect.Effect<Discovered, MetadataError> =>
    Either.match(discovery.parseIssuer(issuer, allowInsecure), {
      onLeft: Effect.fail,
      onRight: (url) => {
        const locations = order.map((wellKnown) => discovery.wellKnownUrl(url, wellKnown))
        return attempt(issuer, locations).pipe(
          Effect.retry(policy),
          Effect.tapBoth({
            onFailure: (error) => Effect.annotateCurrentSpan("outcome", error._tag),
            onSuccess: () => Effect.annotateCurrentSpan("outcome", "success")
          }),
          Effect.withSpan("AuthorizationServerMetadata.discover", {
            kind: "client",
            attributes: { "oauth.issuer": issuer, "server.address": url.hostname }
          })
        )
      }
    })
}
