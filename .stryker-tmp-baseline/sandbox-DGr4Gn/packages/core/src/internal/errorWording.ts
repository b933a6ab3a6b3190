/**
 * Wording that the messages of several errors share: one place, so that a log says the same thing
 * the same way whichever request failed.
 */
// @ts-nocheck


/**
 * What each kind of transport failure did, as the messages of token and metadata errors say it
 * (`Client "api" could not connect to the token endpoint ...`).
 */
export const transportVerb = {
  Connect: "could not connect to",
  Reset: "lost the connection to",
  Timeout: "got no answer in time from",
  Transport: "failed to talk to"
} as const
