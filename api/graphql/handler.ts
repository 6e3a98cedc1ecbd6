import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createContextValues, createHandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import DataLoader from 'dataloader';
import { Kind, type ASTVisitor, type DocumentNode, type FieldNode, type GraphQLError, type OperationDefinitionNode, type ValidationContext } from 'graphql';
import { createSchema, createYoga, type Plugin, type YogaInitialContext, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import type { MemberQuery } from '../../gen/rte/v1/member_query_pb';
import {
  BenefitSummary_Network,
  CheckEligibilityRequestSchema,
  CoverageSummary_Status,
  EligibilityService,
  type CheckEligibilityResponse,
  type CoverageSummary as CoverageMessage,
  type EligibilityErrorDetail,
} from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCache, EligibilityCacheEntry } from '../../activities/cache';
import type { MemberDirectory, MemberSummary } from '../../directory/member-directory';
import { decideCacheAction } from '../../lib/cache-policy';
import { FieldError } from '../../lib/errors';
import { DEFAULT_ELIGIBILITY_OPERATION } from '../../lib/operations';
import type { Metrics } from '../../lib/metrics';
import { principalKey, type Principal, type TokenVerifier } from '../auth';
import { toCoverageMessage, toErrorDetails } from '../coverage-mapping';
import { REQUEST_SOURCE_HEADER } from '../services/eligibility-service';
import { authenticate, requireRootFieldScopes } from './auth';
import { asInvalidArgument, codeName, graphqlError, isConnectCodeName, toGraphqlError, withCode } from './errors';
import { memberQueryFromInput, memberQuerySdl } from './member-query-sdl';

/** Where the API mounts GraphQL (HTTP/1.1 only: GraphQL over HTTP needs no HTTP/2). */
export const GRAPHQL_PATH = '/graphql';
/** Largest page of `members` (one Redis MGET reads a page's cache entries). */
export const MAX_MEMBERS_PAGE = 1000;
export const DEFAULT_MAX_DEPTH = 8;
/**
 * Root `coverage` fields (aliases included) per request. Each may be a live, interactive Stedi check, which outranks
 * batches in the slot pool: one request must not fan out into hundreds of them. Many members are `members` (cache
 * only) or SubmitBatch's job.
 */
export const MAX_COVERAGE_FIELDS = 25;
/**
 * graphql-armor's cost: objects 2, scalars 1, ×1.5 per level, × a literal `first`. A page of 1,000 members with every
 * coverage field costs about 256,000 (the compact export 51,000); a single `coverage` about 20.
 */
export const DEFAULT_MAX_COST = 300_000;

export interface GraphqlDeps {
  /** The Connect CheckEligibility implementation: `coverage` runs exactly the same code (modes, refresh, metrics). */
  eligibility: Pick<ServiceImpl<typeof EligibilityService>, 'checkEligibility'>;
  /** Bulk cache reads for `members { coverage }`; `getMany` must read a page in one round trip. */
  cache: Pick<EligibilityCache, 'getMany'>;
  directory: Pick<MemberDirectory, 'queryMembers' | 'getMemberRecords'> & {
    /** The directory's check of a query (unknown sponsor ids and flag keys refused), as SubmitBatch runs it. */
    checkQuery?(query: MemberQuery): Promise<void>;
  };
  verifyToken: TokenVerifier;
  logger: Logger;
  /** rpcRequests / rpcDuration: every GraphQL request, as `graphql:<root fields>` beside Connect's RPCs. */
  metrics: Pick<Metrics, 'cacheControlRequests' | 'rpcRequests' | 'rpcDuration' | 'auditEvents'>;
  /** local: GraphiQL and arbitrary operations; production: persisted operations only, no GraphiQL. */
  profile: 'local' | 'production';
  /** Allow-listed operations, sha256 hex of the exact text → text (persisted-operations.json when absent). */
  persistedOperations?: ReadonlyMap<string, string>;
  maxDepth?: number;
  maxCost?: number;
  now?: () => number;
}

interface UserCtx {
  principal: Principal;
  loaders: Loaders;
}
type Ctx = YogaInitialContext & UserCtx;

interface Loaders {
  /** CACHE_ONLY cache reads, batched per tick into one getMany (one MGET). */
  cacheEntry: DataLoader<string, EligibilityCacheEntry | null>;
  member: DataLoader<string, MemberView | null>;
}

interface MemberView {
  memberId: string;
  sponsorId: string | null;
  timeZone: string | null;
}

/** The schema files sit next to this module (`npm run build` copies them into dist/api/graphql). */
function readSdl(name: string): string {
  return readFileSync(join(__dirname, name), 'utf8');
}

export function loadPersistedOperations(): ReadonlyMap<string, string> {
  return new Map(Object.entries(JSON.parse(readSdl('persisted-operations.json')) as Record<string, string>));
}

const MODE_ENUM: Record<string, CacheControl> = {
  DEFAULT: CacheControl.DEFAULT,
  CACHE_ONLY: CacheControl.CACHE_ONLY,
  PREFER_CACHED: CacheControl.PREFER_CACHED,
  BYPASS_CACHE: CacheControl.BYPASS_CACHE,
  STALE_WHILE_REVALIDATE: CacheControl.STALE_WHILE_REVALIDATE,
};
const CACHE_STATUS_NAME: Record<number, string | null> = {
  [CacheStatus.HIT]: 'HIT',
  [CacheStatus.MISS]: 'MISS',
  [CacheStatus.STALE]: 'STALE',
  [CacheStatus.ERROR]: 'ERROR',
};
const COVERAGE_STATUS: Record<number, string> = { [CoverageSummary_Status.ACTIVE]: 'ACTIVE', [CoverageSummary_Status.INACTIVE]: 'INACTIVE' };
const NETWORK: Record<number, string> = { [BenefitSummary_Network.IN_NETWORK]: 'IN_NETWORK', [BenefitSummary_Network.OUT_OF_NETWORK]: 'OUT_OF_NETWORK' };

/** Codes that describe this member's answer (go into CoverageResult.error); every other failure is a request error. */
const MEMBER_OUTCOME_CODES: ReadonlySet<Code> = new Set([Code.NotFound, Code.FailedPrecondition, Code.DeadlineExceeded]);

const orNull = (s: string) => (s === '' ? null : s);
const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);

interface MetadataView {
  cached: boolean;
  age_seconds: number;
  expires_at: string | null;
  fetched_at: string | null;
  source: string | null;
}

function coverageView(memberId: string, c: CoverageMessage | undefined, errors: EligibilityErrorDetail[], stediCheckId: string, metadata: MetadataView) {
  return {
    memberId,
    status: (c && COVERAGE_STATUS[c.status]) ?? 'UNKNOWN',
    payer: c ? orNull(c.payerName) : null,
    payerId: c ? orNull(c.payerId) : null,
    planName: c ? orNull(c.planName) : null,
    planNumber: c ? orNull(c.planNumber) : null,
    groupNumber: c ? orNull(c.groupNumber) : null,
    insuranceType: c ? orNull(c.insuranceType) : null,
    coverageStartDate: c ? orNull(c.coverageStartDate) : null,
    coverageEndDate: c ? orNull(c.coverageEndDate) : null,
    benefits: (c?.benefits ?? []).map((b) => ({
      serviceTypeCode: orNull(b.serviceTypeCode),
      benefitCode: b.benefitCode,
      benefitName: orNull(b.benefitName),
      network: NETWORK[b.network] ?? 'UNKNOWN',
      coverageLevelCode: orNull(b.coverageLevelCode),
      timeQualifier: orNull(b.timeQualifier),
      amount: b.amount ?? null,
      percent: b.percent ?? null,
    })),
    errors: errors.map((e) => ({ code: e.code, description: orNull(e.description), followupAction: orNull(e.followupAction), retryable: e.retryable })),
    stediCheckId: orNull(stediCheckId),
    _metadata: metadata,
  };
}

function fromResponse(memberId: string, r: CheckEligibilityResponse) {
  const m = r.cacheMetadata;
  return {
    data: coverageView(memberId, r.coverage, r.errors, r.stediCheckId, {
      cached: m?.cached ?? false,
      age_seconds: m?.ageSeconds ?? 0,
      expires_at: iso(m?.expiresAt),
      fetched_at: iso(m?.fetchedAt),
      source: m ? orNull(m.source) : null,
    }),
    error: null,
    cacheStatus: CACHE_STATUS_NAME[r.cacheStatus] ?? null,
    memberId,
  };
}

function fromEntry(memberId: string, entry: EligibilityCacheEntry, status: string, at: number) {
  return {
    // As CheckEligibility: a kept "retry later" payer error beside an expired answer is shown with it.
    data: coverageView(memberId, toCoverageMessage(entry.summary), [...toErrorDetails(entry.summary), ...(entry.outcome === 'success' && entry.lastPayerError ? toErrorDetails(entry.lastPayerError.summary) : [])], entry.stediCheckId ?? '', {
      cached: true,
      age_seconds: Math.max(0, Math.floor((at - entry.fetchedAt) / 1000)),
      expires_at: new Date(entry.expiresAt).toISOString(),
      fetched_at: new Date(entry.fetchedAt).toISOString(),
      source: entry.source,
    }),
    error: null,
    cacheStatus: status,
    memberId,
  };
}

const outcomeError = (memberId: string, code: Code, message: string, cacheStatus: string | null) => ({
  data: null,
  error: { code: codeName(code), message },
  cacheStatus,
  memberId,
});

/**
 * GraphQL on the API process (issue 16): schema-first (schema.graphql + the generated MemberQueryInput), the same
 * JWT scopes as Connect, depth and cost limits, persisted operations only in the production profile, GraphiQL only
 * in the local profile. Read-only: no operation changes state, so nothing is written to the audit log.
 */
export function createGraphqlHandler(deps: GraphqlDeps): YogaServerInstance<object, UserCtx> {
  const now = deps.now ?? Date.now;
  const local = deps.profile === 'local';
  const persisted = deps.persistedOperations ?? loadPersistedOperations();
  const principals = new WeakMap<Request, Principal>();

  const fail = (operation: string) => (err: unknown) => {
    throw toGraphqlError(err, deps.logger, operation, { member_query: 'query', member_id: 'memberId', cache_control: 'cacheControl' });
  };

  const newLoaders = (): Loaders => ({
    cacheEntry: new DataLoader<string, EligibilityCacheEntry | null>(
      (ids) => deps.cache.getMany(ids.map((memberId) => ({ memberId, operation: DEFAULT_ELIGIBILITY_OPERATION }))),
      // One page (≤ MAX_MEMBERS_PAGE) is one batch; several `members` fields in one request may add up to more.
      { maxBatchSize: MAX_MEMBERS_PAGE, cache: true },
    ),
    member: new DataLoader<string, MemberView | null>(async (ids) => {
      const records = await deps.directory.getMemberRecords(ids);
      return ids.map((id) => {
        const r = records.get(id);
        return r ? { memberId: r.memberId, sponsorId: r.sponsorId, timeZone: r.timeZone } : null;
      });
    }),
  });

  const resolvers = {
    Query: {
      async coverage(_: unknown, args: { memberId: string; cacheControl: string }, ctx: Ctx) {
        const cacheControl = MODE_ENUM[args.cacheControl];
        if (cacheControl === undefined) throw graphqlError(`cacheControl: unknown value ${args.cacheControl}`, Code.InvalidArgument, { field: 'coverage.cacheControl' });
        const contextValues = createContextValues().set(principalKey, ctx.principal);
        const source = ctx.request.headers.get(REQUEST_SOURCE_HEADER);
        const handlerCtx = createHandlerContext({
          service: EligibilityService,
          method: EligibilityService.method.checkEligibility,
          protocolName: 'graphql',
          requestMethod: 'POST',
          url: ctx.request.url,
          requestSignal: ctx.request.signal,
          // Only the request source travels: a browser's Cache-Control (e.g. no-cache on reload) must not change the mode.
          requestHeader: source ? { [REQUEST_SOURCE_HEADER]: source } : {},
          contextValues,
        });
        try {
          const res = await deps.eligibility.checkEligibility(create(CheckEligibilityRequestSchema, { memberId: args.memberId, cacheControl }), handlerCtx);
          return fromResponse(args.memberId, res as CheckEligibilityResponse);
        } catch (err) {
          if (err instanceof ConnectError && MEMBER_OUTCOME_CODES.has(err.code)) {
            const status = handlerCtx.responseHeader.get('rte-cache-status') ?? err.metadata.get('rte-cache-status');
            return outcomeError(args.memberId, err.code, err.rawMessage, status);
          }
          return fail('coverage')(err);
        }
      },

      async members(_: unknown, args: { query?: Record<string, unknown> | null; first: number; after?: string | null }, ctx: Ctx) {
        // Listing members is a bulk read of member ids selected by attributes, some of them sensitive (demographics):
        // it leaves an audit line as the mutating RPCs do, with the filters used (names only, never their values) and
        // how many ids it returned, so an operator can see who enumerated what (probe p18 F2).
        const audit = (code: string, returned: number) => {
          deps.metrics.auditEvents.inc({ method: 'graphql:members', outcome: code === 'ok' ? 'allowed' : code });
          deps.logger.info({ audit: true, method: 'graphql:members', caller: ctx.principal.service, code, filters: filterNames(args.query), page: args.after ? 'next' : 'first', returned }, 'audit');
        };
        try {
          if (!Number.isInteger(args.first) || args.first < 1 || args.first > MAX_MEMBERS_PAGE) {
            throw new FieldError('first', `must be 1..${MAX_MEMBERS_PAGE}`);
          }
          const query = memberQueryFromInput(args.query);
          query.limit = args.first;
          // A first page is checked as SubmitBatch checks its member_query: a sponsor id or flag key the directory
          // does not know is refused naming it, not answered with an empty page (or, for a flag required false,
          // every member). Later pages carry a cursor bound to the query the first page checked.
          if (!args.after && deps.directory.checkQuery) await deps.directory.checkQuery(query);
          query.cursor = args.after ?? '';
          // The directory names the cursor `query.cursor` (the proto field); here the client wrote it as `after`.
          const page = await deps.directory.queryMembers(query).catch((err: unknown) => {
            throw err instanceof FieldError && (err.fieldPath === 'query.cursor' || err.fieldPath === 'member_query.cursor') ? new FieldError('after', err.message.replace(/^(member_)?query\.cursor: /, '')) : err;
          });
          for (const m of page.members) ctx.loaders.member.prime(m.memberId, memberView(m));
          audit('ok', page.members.length);
          return { nodes: page.members.map(memberView), pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor } };
        } catch (err) {
          try {
            return fail('members')(err);
          } catch (mapped) {
            audit(String((mapped as Partial<GraphQLError>).extensions?.['code'] ?? 'error'), 0);
            throw mapped;
          }
        }
      },
    },
    Member: {
      async coverage(member: MemberView, _args: { cacheControl: string }, ctx: Ctx) {
        const at = now();
        let entry: EligibilityCacheEntry | null;
        try {
          entry = await ctx.loaders.cacheEntry.load(member.memberId);
        } catch (err) {
          return fail('members.coverage')(err);
        }
        // The same decision table as CheckEligibility's CACHE_ONLY (lib/cache-policy.ts): never a live check.
        const decision = decideCacheAction('CACHE_ONLY', entry, at);
        const result = decision.action === 'serve' && entry ? decision.cacheStatus.toLowerCase() : 'miss';
        deps.metrics.cacheControlRequests.inc({ mode: 'cache_only', result });
        if (decision.action === 'serve' && entry) return fromEntry(member.memberId, entry, decision.cacheStatus, at);
        return outcomeError(member.memberId, Code.NotFound, 'cache miss: nothing cached for this member (CACHE_ONLY never calls Stedi)', 'MISS');
      },
    },
    CoverageResult: {
      member: (r: { memberId: string }, _: unknown, ctx: Ctx) => ctx.loaders.member.load(r.memberId).catch(fail('member')),
    },
  };

  // Every request is counted in rte_rpc_requests_total / rte_rpc_duration_seconds like a Connect RPC, its method
  // `graphql:<root fields>` (schema names, so the label set is bounded; never the client's operation name) and its
  // code the first error's Connect code (`ok` without errors: a member's own outcome in `error` is data). A request
  // refused before its document is known (no token, a syntax error, an unknown persisted operation) is `graphql`.
  const requests = new WeakMap<Request, { started: bigint; method: string; operationName?: string | null }>();
  const metricsPlugin: Plugin<Ctx> = {
    onRequest({ request }) {
      requests.set(request, { started: process.hrtime.bigint(), method: 'graphql' });
    },
    onParams({ request, params }) {
      const r = requests.get(request);
      if (r) r.operationName = params.operationName ?? null;
    },
    onValidate({ params, context }) {
      const r = requests.get((context as Partial<Ctx>).request as Request);
      if (r) r.method = graphqlMethod(params.documentAST, r.operationName);
    },
    onResultProcess({ request, result, setResult }) {
      const r = requests.get(request);
      if (!r) return;
      requests.delete(request);
      const first = Array.isArray(result) ? result[0] : result;
      let errors = first && !(Symbol.asyncIterator in first) ? (first.errors ?? []) : [];
      // Yoga's own request refusals (an unknown body key, a batched array, a mutation over GET) carry BAD_REQUEST or
      // no code: every error a client sees has a Connect code.
      if (first && !Array.isArray(result) && errors.some((e) => !isConnectCodeName(e.extensions?.['code']))) {
        errors = errors.map((e) => (isConnectCodeName(e.extensions?.['code']) ? e : withCode(e as GraphQLError, Code.InvalidArgument)));
        setResult({ ...(first as object), errors } as typeof result);
      }
      const code = errors.length === 0 ? 'ok' : connectCodeName(errors[0]?.extensions?.['code']);
      deps.metrics.rpcRequests.inc({ method: r.method, code });
      deps.metrics.rpcDuration.observe({ method: r.method }, Number(process.hrtime.bigint() - r.started) / 1e9);
    },
  };

  const authPlugin: Plugin<Ctx> = {
    async onParams({ request, setResult }) {
      try {
        principals.set(request, await authenticate(request.headers.get('authorization'), deps.verifyToken));
      } catch (err) {
        setResult({ errors: [err as GraphQLError] });
      }
    },
    onParse() {
      // A syntax error is bad input like any other: INVALID_ARGUMENT (it had no code at all).
      return ({ result, replaceParseResult }) => {
        if (result instanceof Error && !('code' in ((result as GraphQLError).extensions ?? {}))) replaceParseResult(asInvalidArgument(result as GraphQLError, undefined));
      };
    },
    onValidate({ params, addValidationRule }) {
      // The page size is checked by name before the cost limit sees it, so an oversized literal `first` is refused
      // naming its field (like the Connect API's page_size), not as a query too complex. A `$first` is checked by the
      // resolver (the same 1..MAX_MEMBERS_PAGE) before the directory is asked.
      addValidationRule((context: ValidationContext): ASTVisitor => {
        // Counted over the document's AST (fragments included): an upper bound on the root coverage fields that run.
        let coverageFields = 0;
        return {
          Field(node: FieldNode) {
            if (node.name.value === 'coverage' && context.getParentType()?.name === 'Query' && ++coverageFields === MAX_COVERAGE_FIELDS + 1) {
              context.reportError(
                graphqlError(`coverage: at most ${MAX_COVERAGE_FIELDS} per request (aliases included); read many members with members(query:) (cache only) or SubmitBatch`, Code.InvalidArgument, {
                  field: 'coverage',
                  http: { status: 400 },
                }),
              );
            }
            if (node.name.value !== 'members') return;
            const first = node.arguments?.find((a) => a.name.value === 'first');
            if (first?.value.kind !== Kind.INT) return;
            const n = Number(first.value.value);
            if (n < 1 || n > MAX_MEMBERS_PAGE) context.reportError(graphqlError(`first: must be 1..${MAX_MEMBERS_PAGE}`, Code.InvalidArgument, { field: 'first', http: { status: 400 } }));
          },
        };
      });
      return ({ result, setResult }) => {
        if (result.length === 0) return;
        const errors = result.map((e) => asInvalidArgument(e, params.documentAST));
        // An oversized page is the cause of its cost: say that alone.
        const page = errors.some((e) => e.extensions['field'] === 'first');
        setResult(page ? errors.filter((e) => e.extensions['reason'] !== 'QUERY_TOO_COMPLEX') : errors);
      };
    },
    // Yoga runs a subscription through subscribe, not execute: the same refusal (read-only, scopes) applies.
    onSubscribe({ args, setResultAndStopExecution }) {
      try {
        requireRootFieldScopes(args.document, args.operationName, (args.contextValue as Ctx).principal);
      } catch (err) {
        setResultAndStopExecution({ errors: [err as GraphQLError] });
      }
    },
    onExecute({ args, setResultAndStopExecution }) {
      try {
        requireRootFieldScopes(args.document, args.operationName, (args.contextValue as Ctx).principal);
      } catch (err) {
        setResultAndStopExecution({ errors: [err as GraphQLError] });
        return undefined;
      }
      const started = now();
      return {
        onExecuteDone({ result, setResult }) {
          let errors = 'errors' in result ? (result.errors ?? []) : [];
          if (errors.length > 0) {
            // Variable coercion failures (an unknown enum value in $variables) happen at execution: same mapping.
            errors = errors.map((e) => (e.path ? e : asInvalidArgument(e, args.document)));
            setResult({ ...result, errors });
          }
          // Read-only API: an access line at debug like Connect's non-mutating RPCs; no audit line (nothing changes state).
          const caller = (args.contextValue as Ctx).principal.service;
          deps.logger.debug({ operation: args.operationName ?? 'anonymous', caller, codes: errors.map((e) => e.extensions['code']), durationMs: now() - started }, 'graphql');
        },
      };
    },
  };

  return createYoga<object, UserCtx>({
    graphqlEndpoint: GRAPHQL_PATH,
    schema: createSchema<Ctx>({ typeDefs: [readSdl('schema.graphql'), memberQuerySdl()], resolvers }),
    graphiql: local ? { title: 'rte-platform GraphQL', defaultQuery: '{ coverage(memberId: "m_0000001", cacheControl: CACHE_ONLY) { cacheStatus data { status payer _metadata { age_seconds } } error { code message } } }' } : false,
    landingPage: false,
    logging: false,
    // CORS is the API server's (api/cors.ts, CORS_ALLOWED_ORIGINS, default none), in front of every path; Yoga's own
    // default would answer any origin, credentials included.
    cors: false,
    // Resolvers throw only GraphQLErrors built from the Connect mapping; anything else is a bug and is masked.
    maskedErrors: true,
    context: ({ request }): UserCtx => {
      const principal = principals.get(request);
      if (!principal) throw graphqlError('not authenticated', Code.Unauthenticated);
      return { principal, loaders: newLoaders() };
    },
    plugins: [
      metricsPlugin,
      authPlugin,
      usePersistedOperations<Ctx>({
        getPersistedOperation: (key) => persisted.get(key) ?? null,
        // Local profile: any operation (GraphiQL, exploration). Production: only the allow-list.
        allowArbitraryOperations: local,
        customErrors: {
          notFound: { message: 'persisted operation not found: only allow-listed operations run in production', extensions: { code: 'NOT_FOUND' } },
          persistedQueryOnly: { message: 'only persisted (allow-listed) operations are accepted in production', extensions: { code: 'PERMISSION_DENIED', http: { status: 403 } } },
          keyNotFound: { message: 'persisted operation id missing (extensions.persistedQuery.sha256Hash)', extensions: { code: 'INVALID_ARGUMENT', http: { status: 400 } } },
        },
      }),
      // Reported as validation errors (not thrown) so they get the same INVALID_ARGUMENT mapping as the rest.
      maxDepthPlugin({ n: deps.maxDepth ?? DEFAULT_MAX_DEPTH, exposeLimits: true, propagateOnRejection: false, onReject: [(ctx, err) => ctx?.reportError(err)] }),
      costLimitPlugin({ maxCost: deps.maxCost ?? DEFAULT_MAX_COST, exposeLimits: true, propagateOnRejection: false, onReject: [(ctx, err) => ctx?.reportError(err)] }),
    ],
  });
}

function memberView(m: MemberSummary): MemberView {
  return { memberId: m.memberId, sponsorId: m.sponsorId, timeZone: m.timeZone };
}

/** `graphql:coverage`, `graphql:members`, `graphql:coverage+members`: the executed operation's root fields. */
export function graphqlMethod(document: DocumentNode, operationName?: string | null): string {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = (operationName ? ops.find((o) => o.name?.value === operationName) : undefined) ?? (ops.length === 1 ? ops[0] : undefined);
  const names = new Set<string>();
  for (const sel of op?.selectionSet.selections ?? []) if (sel.kind === Kind.FIELD) names.add(sel.name.value);
  return names.size > 0 ? `graphql:${[...names].sort().join('+')}` : 'graphql';
}

/** INVALID_ARGUMENT → InvalidArgument (the spelling of rte_rpc_requests_total's code label); anything else Unknown. */
function connectCodeName(code: unknown): string {
  if (typeof code !== 'string') return 'Unknown';
  const name = code.toLowerCase().replace(/(^|_)([a-z])/g, (_, __: string, c: string) => c.toUpperCase());
  return typeof (Code as unknown as Record<string, unknown>)[name] === 'number' ? name : 'Unknown';
}

/** The filters a `members` query sets (`sponsorIds`, `demographicsFilter.isLgbtqPlus`, …): names only, no values. */
export function filterNames(query: Record<string, unknown> | null | undefined): string[] {
  const out: string[] = [];
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      if (typeof v === 'object' && !Array.isArray(v) && prefix === '') walk(v as Record<string, unknown>, `${k}.`);
      else out.push(`${prefix}${k}`);
    }
  };
  if (query) walk(query, '');
  return out.sort();
}
