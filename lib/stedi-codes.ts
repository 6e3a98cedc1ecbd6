/** AAA codes that signal payer downtime, throttling or flaky links (stedi-api.md §1.7). Shared by the Stedi adapter and the API. */
export const CONNECTIVITY_AAA_CODES: ReadonlySet<string> = new Set(['42', '79', '80']);
