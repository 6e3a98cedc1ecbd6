import { StediRequestError } from './gateway';

/** Tests: the `StediRequestError` a gateway call fails with (any other outcome fails the test). */
export async function failureOf(p: Promise<unknown>): Promise<StediRequestError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StediRequestError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}
