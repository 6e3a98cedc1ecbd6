import type { CoverageSummary } from '../../lib/coverage-summary';

/** An active coverage summary for unit tests of the eligibility service (payer P1, plan Gold, no benefits). */
export const ACTIVE_COVERAGE: CoverageSummary = Object.freeze({
  status: 'active',
  payer: { id: 'P1', name: 'Payer' },
  plan: { name: 'Gold', number: null, groupNumber: null, insuranceType: null },
  coverage: { start: '2024-01-01', end: null },
  benefits: [],
  errors: [],
});
