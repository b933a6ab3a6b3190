/**
 * @since 0.1.0
 */
export * as AccessTokenHttpClient from "./AccessTokenHttpClient.js"
