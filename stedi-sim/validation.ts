import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Request validation against Stedi's published OpenAPI 3.1 specs, shipped in stedi-sim/openapi/. Each spec's
 * `components` is registered as one ajv schema with an id (`healthcare`, `manager`), so a schema is referenced as
 * `healthcare#/components/schemas/EligibilityCheckRequestContent` and its internal `#/components/...` refs resolve
 * inside the same document. Only the schemas actually used are compiled (lazily, ~0.4 s at startup).
 */

/** Stedi's 400 `ValidationException`: `{message, fieldList:[{path, message}]}` (JSON-pointer paths). */
export interface StediValidationErrorBody {
  message: string;
  fieldList: Array<{ path: string; message: string }>;
}

export interface SpecValidators {
  eligibilityRequest: ValidateFunction;
  batchRequest: ValidateFunction;
  /** For tests: validate generated bodies against the response schemas. */
  eligibilityResponse: ValidateFunction;
  pollingResponse: ValidateFunction;
  getBatchResponse: ValidateFunction;
}

/** Finds stedi-sim/openapi both when run from source (tsx/jest) and from a tsc build under dist/. */
export function resolveSpecDir(explicit?: string): string {
  const candidates = [explicit, join(__dirname, 'openapi'), join(__dirname, '..', '..', 'stedi-sim', 'openapi'), join(process.cwd(), 'stedi-sim', 'openapi')];
  for (const c of candidates) if (c && existsSync(join(c, 'healthcare.json'))) return c;
  throw new Error('stedi-sim: OpenAPI specs not found (expected stedi-sim/openapi/healthcare.json)');
}

let cached: { dir: string; validators: SpecValidators } | undefined;

export function loadSpecValidators(specDir?: string): SpecValidators {
  const dir = resolveSpecDir(specDir);
  if (cached && cached.dir === dir) return cached.validators;
  const healthcare = JSON.parse(readFileSync(join(dir, 'healthcare.json'), 'utf8')) as { components: unknown };
  const manager = JSON.parse(readFileSync(join(dir, 'manager.json'), 'utf8')) as { components: unknown };
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'healthcare', components: healthcare.components });
  ajv.addSchema({ $id: 'manager', components: manager.components });
  const get = (ref: string): ValidateFunction => {
    const v = ajv.getSchema(ref);
    if (!v) throw new Error(`stedi-sim: schema ${ref} missing from the spec`);
    return v;
  };
  const validators: SpecValidators = {
    eligibilityRequest: get('healthcare#/components/schemas/EligibilityCheckRequestContent'),
    batchRequest: get('manager#/components/schemas/BatchEligibilityChecksRequestContent'),
    eligibilityResponse: get('healthcare#/components/schemas/EligibilityCheckResponseContent'),
    pollingResponse: get('manager#/components/schemas/BatchEligibilityPollingResponseContent'),
    getBatchResponse: get('manager#/components/schemas/GetBatchResponseContent'),
  };
  cached = { dir, validators };
  return validators;
}

function constraint(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return 'Member must not be null';
    case 'pattern':
      return `Member must satisfy regular expression pattern: ${String(p['pattern'])}`;
    case 'minLength':
      return `Member must have length greater than or equal to ${String(p['limit'])}`;
    case 'maxLength':
      return `Member must have length less than or equal to ${String(p['limit'])}`;
    case 'minItems':
      return `Member must have length greater than or equal to ${String(p['limit'])}`;
    case 'maxItems':
      return `Member must have length less than or equal to ${String(p['limit'])}`;
    case 'minimum':
      return `Member must be greater than or equal to ${String(p['limit'])}`;
    case 'maximum':
      return `Member must be less than or equal to ${String(p['limit'])}`;
    case 'enum':
      return `Member must satisfy enum value set: [${(p['allowedValues'] as unknown[]).map(String).join(', ')}]`;
    case 'type':
      return `Member must be of type ${String(p['type'])}`;
    default:
      return `Member ${e.message ?? 'is invalid'}`;
  }
}

/**
 * Renders ajv errors the way Stedi's Smithy-based API does: one `fieldList` entry per violated constraint and a
 * summary message. Values are never echoed (they may be member data).
 */
export function toStediValidationError(errors: readonly ErrorObject[]): StediValidationErrorBody {
  const seen = new Set<string>();
  const fieldList: StediValidationErrorBody['fieldList'] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const path = e.keyword === 'required' ? `${e.instancePath}/${String((e.params as Record<string, unknown>)['missingProperty'])}` : e.instancePath || '/';
    const message = `Value at '${path}' failed to satisfy constraint: ${constraint(e)}`;
    if (seen.has(message)) continue;
    seen.add(message);
    fieldList.push({ path, message });
  }
  const n = fieldList.length;
  const summary = `${n} validation error${n === 1 ? '' : 's'} detected: ${fieldList.slice(0, 10).map((f) => f.message).join('; ')}${n > 10 ? '; ...' : ''}`;
  return { message: summary, fieldList };
}

/** Validates and returns null when valid, or Stedi's 400 body. */
export function validateWith(validate: ValidateFunction, body: unknown): StediValidationErrorBody | null {
  if (validate(body)) return null;
  return toStediValidationError(validate.errors ?? []);
}
