import { createHash } from 'node:crypto';

/**
 * SubmitBatch idempotency: the hash of what a request asks for, stored with the batch (Temporal memo `requestHash`)
 * and compared when the same client_job_id comes again. Pure (no I/O); the API computes it after validation.
 */

/** Stable JSON: object keys sorted, so equal values hash equally whatever order a client wrote maps in. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * Repeated MemberQuery fields (JSON names, dotted from the query) whose order carries meaning. None does today:
 * docs/member-query-semantics.md makes the values of one repeated field alternatives (OR), `feature_options`
 * entries and `not_enrolled_programs` conditions that all hold (AND), and a set of alternatives or conditions means
 * the same in any order and with a value written twice. The query's result order comes from `sort_order`, never
 * from a list. A unit test lists every repeated field of the schema, so a new one is classified here on purpose.
 * (A batch's `member_ids` are not part of the query: their order is the batch's member index order, and the hash
 * treats them as the set the docs promise without reordering the batch.)
 */
export const ORDERED_QUERY_LISTS: ReadonlySet<string> = new Set<string>();

/**
 * Enum values the directory reads exactly as the field's unset value (proto3 JSON leaves unset values out), so a
 * client that spells such a default out asks for the same selection: docs/member-query-semantics.md ("`operator`
 * unspecified = `EQUALS`; `type` unspecified compares as STRING"), common.proto ("DIRECTION_UNSPECIFIED
 * (ascending)").
 */
const SPELLED_OUT_DEFAULTS: Readonly<Record<string, string>> = {
  'sortOrder.direction': 'ASCENDING',
  'featureOptions.operator': 'EQUALS',
  'featureOptions.type': 'STRING',
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function canonicalValue(v: unknown, path: string): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => canonicalValue(x, path));
    if (ORDERED_QUERY_LISTS.has(path)) return items;
    // A set: one copy of each value, in a fixed order.
    const byKey = new Map<string, unknown>();
    for (const x of items) byKey.set(stableJson(x), x);
    return [...byKey.keys()].sort().map((k) => byKey.get(k));
  }
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    if (SPELLED_OUT_DEFAULTS[p] !== undefined && x === SPELLED_OUT_DEFAULTS[p]) continue;
    const c = canonicalValue(x, p);
    // An empty list, map or filter message does not restrict (docs/member-query-semantics.md "Unset means no
    // restriction"): the same as leaving it out.
    if (Array.isArray(c) ? c.length === 0 : isPlainObject(c) && Object.keys(c).length === 0) continue;
    out[k] = c;
  }
  return out;
}

/**
 * The canonical form of a member_query (its proto3 JSON, as `toJson(MemberQuerySchema, …)` writes it) for the
 * idempotency comparison: set-valued lists sorted and de-duplicated, spelled-out defaults and empty filters left out,
 * and `schedulingWindow` dropped, because the window a batch runs in is compared as the resolved
 * `options.schedulingWindow` (written in the query or in the options, it is the same request).
 */
export function canonicalMemberQuery(queryJson: unknown): unknown {
  const c = canonicalValue(queryJson, '');
  if (!isPlainObject(c)) return c;
  const { schedulingWindow: _window, ...rest } = c;
  return rest;
}

export type SubmitSelector = { kind: 'ids'; memberIds: readonly string[] } | { kind: 'query'; query: unknown };

/**
 * The hash stored with a new batch: members (ids as a set, or the canonical query) and the resolved options
 * (defaults applied, the window resolved, so spelling a default out is the same request). A resubmission with the
 * same client_job_id must hash the same (or match {@link legacySubmitRequestHash}) to get the existing batch.
 */
export function submitRequestHash(selector: SubmitSelector, options: unknown): string {
  // Member ids hash as before (`v: 1`): that form was already canonical, and batches started before keep matching.
  if (selector.kind === 'ids') return legacySubmitRequestHash(selector, options);
  return createHash('sha256').update(stableJson({ v: 2, members: { query: canonicalMemberQuery(selector.query) }, options })).digest('hex');
}

/**
 * The hash batches started before the canonical query form carry in their memo (`v: 1`: the query JSON as
 * written). Kept so a repeat of such a batch is still recognised: see {@link sameSubmitRequest}.
 */
export function legacySubmitRequestHash(selector: SubmitSelector, options: unknown): string {
  const members = selector.kind === 'ids' ? { ids: [...selector.memberIds].sort() } : { query: selector.query };
  return createHash('sha256').update(stableJson({ v: 1, members, options })).digest('hex');
}

/**
 * Whether a stored request hash is this request's. Batches submitted before the upgrade carry the `v: 1` hash of
 * the query as written in their memo, which nothing rewrites: a repeat of one of them, written as before, must
 * still answer with that batch (clients retry a submit they are unsure of), so the old form is accepted too. That never
 * accepts a request the canonical form would refuse: requests whose `v: 1` hashes are equal wrote the same query
 * and resolved the same options, so their canonical forms are equal as well.
 */
export function sameSubmitRequest(stored: string, selector: SubmitSelector, options: unknown): boolean {
  return stored === submitRequestHash(selector, options) || stored === legacySubmitRequestHash(selector, options);
}
