import type { MemberQuery } from '../gen/rte/v1/member_query_pb';
import type { MemberRecordSource } from '../lib/member-record';

/** What batch resolution, the member cron and warming need per selected member. */
export interface MemberSummary {
  memberId: string;
  sponsorId: string;
  /** IANA time zone (scheduling windows are computed in it). */
  timeZone: string;
  state: string;
  accountStatus: string;
  lastActiveAt: Date | null;
  /** The predictor's latest probability (member_predictions); null = never predicted. */
  appUsageProbability: number | null;
  createdAt: Date;
}

export interface MemberPage {
  members: MemberSummary[];
  /** Pass back as MemberQuery.cursor for the next page; null when this is the last page. */
  nextCursor: string | null;
}

/** The member directory port. Errors in the query are `FieldError`s naming the field path. */
export interface MemberDirectory extends MemberRecordSource {
  queryMembers(query: MemberQuery): Promise<MemberPage>;
  countMembers(query: MemberQuery): Promise<number>;
}
