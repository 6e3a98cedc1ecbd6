/**
 * Collects bind parameters. Every value from a query reaches SQL only through `add`, which returns a
 * `$n::type` placeholder; the SQL text itself is built from fixed fragments only.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown, cast: SqlCast): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }
}

export type SqlCast =
  | 'text'
  | 'text[]'
  | 'int'
  | 'int[]'
  | 'smallint[]'
  | 'float8'
  | 'boolean'
  | 'timestamptz'
  | 'date'
  | 'jsonb';
