import { isHighConfidencePrediction } from './high-confidence';

describe('isHighConfidencePrediction', () => {
  it.each([
    { confidence: 0.9, appUsageProbability: 0.9, expected: true },
    { confidence: 0.81, appUsageProbability: 0.81, expected: true },
    // A confident "probably yes" is not enough: the group is the one we expect to be > 80 % right.
    { confidence: 0.95, appUsageProbability: 0.8, expected: false },
    { confidence: 0.95, appUsageProbability: 0.6, expected: false },
    // Confidence must be strictly above the design doc's 0.8 threshold.
    { confidence: 0.8, appUsageProbability: 0.9, expected: false },
    // Confident that the member will NOT use the app: nothing to warm, not in the group.
    { confidence: 0.95, appUsageProbability: 0.49, expected: false },
    { confidence: 0.3, appUsageProbability: 0.99, expected: false },
  ])('confidence $confidence, P $appUsageProbability → $expected', ({ expected, ...p }) => {
    expect(isHighConfidencePrediction(p)).toBe(expected);
  });
});
