/**
 * A promise that rejects with `DEADLINE_EXCEEDED after <ms> ms` unless `p` settles first: a bound for calls whose own
 * deadline does not reach every layer (a Temporal describe/query, a PostgreSQL read). The timer never holds the
 * process open.
 */
export function within<T>(ms: number, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`DEADLINE_EXCEEDED after ${ms} ms`)), ms);
    t.unref();
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
