/**
 * @since 0.1.0
 */
// @ts-nocheck

export * as AccessTokenHttpClient from "./AccessTokenHttpClient.js"
