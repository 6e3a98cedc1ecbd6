import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes (registered by stack/stack via stack/search-attributes.txt; keep both in step).
 * Operators filter with e.g. `temporal workflow list --query "RteBatchStatus='RUNNING'"`.
 */
export const RteBatchStatus = defineSearchAttributeKey('RteBatchStatus', SearchAttributeType.KEYWORD);
export const RteClientService = defineSearchAttributeKey('RteClientService', SearchAttributeType.KEYWORD);
export const RteClientJobId = defineSearchAttributeKey('RteClientJobId', SearchAttributeType.KEYWORD);
export const RtePriority = defineSearchAttributeKey('RtePriority', SearchAttributeType.KEYWORD);
export const RteStrategy = defineSearchAttributeKey('RteStrategy', SearchAttributeType.KEYWORD);
export const RteJobType = defineSearchAttributeKey('RteJobType', SearchAttributeType.KEYWORD);
export const RteScheduleName = defineSearchAttributeKey('RteScheduleName', SearchAttributeType.KEYWORD);
export const RteMemberHash = defineSearchAttributeKey('RteMemberHash', SearchAttributeType.KEYWORD);
/** When a batch started processing members (not when it was submitted): the stuck-batch alert's clock. */
export const RteBatchStartedAt = defineSearchAttributeKey('RteBatchStartedAt', SearchAttributeType.DATETIME);
/** A batch's progress in words ("412 / 1,000 done · 3 failed · real-time, 15 slots"), a Web UI list column. */
export const RteBatchProgress = defineSearchAttributeKey('RteBatchProgress', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [
  RteBatchStatus,
  RteClientService,
  RteClientJobId,
  RtePriority,
  RteStrategy,
  RteJobType,
  RteScheduleName,
  RteMemberHash,
  RteBatchStartedAt,
  RteBatchProgress,
] as const;
