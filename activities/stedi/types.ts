/**
 * The subset of Stedi's eligibility shapes this platform reads or writes. Source of truth:
 * stedi-sim/openapi/healthcare.json (`EligibilityCheckRequestContent`, `EligibilityCheckResponseContent`) and
 * stedi-sim/openapi/manager.json (batch / polling / GetBatch). Unknown fields are kept (index signatures) so a
 * response can be stored or re-normalized without loss.
 */

export interface StediProvider {
  organizationName?: string;
  firstName?: string;
  lastName?: string;
  npi?: string;
  taxId?: string;
  [key: string]: unknown;
}

export interface StediRequestSubscriber {
  memberId?: string;
  firstName?: string;
  lastName?: string;
  middleName?: string;
  /** YYYYMMDD */
  dateOfBirth?: string;
  gender?: 'M' | 'F';
  groupNumber?: string;
  [key: string]: unknown;
}

export interface StediEncounter {
  serviceTypeCodes?: string[];
  /** YYYYMMDD */
  dateOfService?: string;
  beginningDateOfService?: string;
  endDateOfService?: string;
  [key: string]: unknown;
}

/** `EligibilityCheckRequestContent` (real-time v3). */
export interface EligibilityCheckRequest {
  /** Deprecated by Stedi (it generates one), still accepted; exactly 9 characters. */
  controlNumber?: string;
  tradingPartnerServiceId: string;
  tradingPartnerName?: string;
  externalPatientId?: string;
  submitterTransactionIdentifier?: string;
  provider: StediProvider;
  subscriber: StediRequestSubscriber;
  dependents?: [Record<string, unknown>];
  encounter?: StediEncounter;
  [key: string]: unknown;
}

/** `BatchEligibilityChecksItem`: a real-time request whose `submitterTransactionIdentifier` is required. */
export interface BatchEligibilityItem extends EligibilityCheckRequest {
  submitterTransactionIdentifier: string;
}

/** `EligibilityCheckError` (AAA errors; also the shape of entity-level `aaaErrors`). */
export interface StediAaaError {
  code?: string;
  description?: string;
  field?: string;
  followupAction?: string;
  location?: string;
  possibleResolutions?: string;
}

export interface StediBenefitsInformation {
  code?: string;
  name?: string;
  coverageLevelCode?: string;
  coverageLevel?: string;
  serviceTypeCodes?: string[];
  serviceTypes?: string[];
  insuranceTypeCode?: string;
  insuranceType?: string;
  planCoverage?: string;
  timeQualifierCode?: string;
  timeQualifier?: string;
  benefitAmount?: string;
  benefitPercent?: string;
  inPlanNetworkIndicatorCode?: string;
  inPlanNetworkIndicator?: string;
  [key: string]: unknown;
}

export interface StediEntity {
  aaaErrors?: StediAaaError[];
  [key: string]: unknown;
}

/** `EligibilityCheckResponseContent`; also the 400 payer-rejection variant `EligibilityCheckOutputValidationErrors`. */
export interface EligibilityCheckResponse {
  id?: string;
  controlNumber?: string;
  tradingPartnerServiceId?: string;
  meta?: { applicationMode?: 'production' | 'test' | 'information'; traceId?: string; [key: string]: unknown };
  provider?: StediEntity;
  subscriber?: StediEntity & { memberId?: string; groupNumber?: string; planNumber?: string };
  dependents?: StediEntity[];
  payer?: StediEntity & { name?: string; payorIdentification?: string };
  planInformation?: { groupNumber?: string; groupDescription?: string; planNumber?: string; planDescription?: string; [key: string]: unknown };
  planDateInformation?: Record<string, string | undefined>;
  planStatus?: Array<{ statusCode?: string; status?: string; planDetails?: string; serviceTypeCodes?: string[] }>;
  benefitsInformation?: StediBenefitsInformation[];
  errors?: StediAaaError[];
  warnings?: Array<{ code?: string; description?: string }>;
  status?: string;
  x12?: string;
  [key: string]: unknown;
}

/** One item of the polling response: a real-time response plus batch correlation fields. */
export interface BatchEligibilityResultItem extends EligibilityCheckResponse {
  batchId?: string;
  batchName?: string;
  submitterTransactionIdentifier?: string;
}

export interface SubmitBatchRequest {
  /** Unique per Stedi account, `^[a-zA-Z0-9-_]{1,100}$`; defaults to the batch id when absent. */
  name?: string;
  /** 1..10,000 items. */
  items: BatchEligibilityItem[];
  /** 8..24, Stedi's default 8. */
  maxRetryHours?: number;
}

export interface SubmitBatchResponse {
  batchId: string;
  submittedAt: string;
}

export interface PollBatchResultsParams {
  batchId?: string;
  /** 1..200, Stedi's default 10. */
  pageSize?: number;
  pageToken?: string;
  /** ISO-8601; only checks completed after it. */
  startDateTime?: string;
}

export interface PollBatchResultsResponse {
  items: BatchEligibilityResultItem[];
  /** Present on every page except the last. */
  nextPageToken?: string;
}

export type StediBatchStatus = 'PENDING' | 'VALIDATED' | 'VALIDATION_FAILED' | 'IN_PROGRESS' | 'COMPLETED' | 'COMPLETED_WITH_ERRORS';

/** `GetBatchResponseContent`. */
export interface StediBatch {
  id: string;
  name: string;
  batchType: 'ELIGIBILITY';
  source?: 'API' | 'CSV_IMPORT';
  status: StediBatchStatus;
  createdAt: string;
  updatedAt: string;
  totalCount?: number;
  successCount?: number;
  errorCount?: number;
  inProgressCount?: number;
  validatedCount?: number;
  validationFailedCount?: number;
  maxRetryHours?: number;
}

/** Stedi's generic error bodies (403/404/409/429/5xx): `{code?, message}`; 400 ValidationException adds `fieldList`. */
export interface StediErrorBody {
  code?: string;
  message?: string;
  fieldList?: Array<{ path: string; message: string }>;
  [key: string]: unknown;
}
