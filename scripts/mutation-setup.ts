/**
 * Mutation runs only (`vitest.mutation.config.ts`): property tests draw from one fixed seed, so that
 * a mutant is killed, or survives, the same way in every run, and the scores of two runs compare.
 * `npm test` keeps drawing new values on every run, to go on finding what no seed has shown yet.
 */
import { FastCheck } from "effect"

FastCheck.configureGlobal({ seed: 31 })
