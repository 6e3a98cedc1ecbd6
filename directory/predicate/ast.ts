import type { AttributeName } from './attributes';

export type Literal =
  | { type: 'number'; value: number; pos: number }
  | { type: 'string'; value: string; pos: number }
  | { type: 'boolean'; value: boolean; pos: number };

export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type PredicateExpr =
  | { kind: 'and' | 'or'; left: PredicateExpr; right: PredicateExpr; pos: number }
  | { kind: 'not'; operand: PredicateExpr; pos: number }
  | { kind: 'compare'; attribute: AttributeName; op: ComparisonOp; value: Literal; pos: number }
  | { kind: 'in'; attribute: AttributeName; negated: boolean; values: Literal[]; pos: number }
  /** A bare boolean attribute, e.g. `IS_VIP`. */
  | { kind: 'attribute'; attribute: AttributeName; pos: number }
  | { kind: 'literal'; value: boolean; pos: number };
