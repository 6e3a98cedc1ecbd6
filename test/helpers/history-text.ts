import type { Client } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ENCRYPTED_ENCODING } from '../../lib/temporal/codec';

/**
 * Everything a workflow's history says, as text, with the encrypted payloads DECRYPTED (what anyone holding the key,
 * e.g. through the codec server, reads): every string field of every event, every payload's data as UTF-8, and any
 * base64/base64url token decoded once more (a directory cursor is base64url JSON naming the last member). Follows
 * continue-as-new to the later runs and child workflows to their histories. Used to prove that no member id is in a
 * history at all, not merely encrypted.
 */
export async function decodedHistoryText(client: Client, codec: PayloadCodec, workflowId: string, runId?: string): Promise<string> {
  const parts: string[] = [];
  const seen = new Set<string>();
  const visit = async (wfId: string, run?: string): Promise<void> => {
    const key = `${wfId}/${run ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    const history = await client.workflow.getHandle(wfId, run).fetchHistory();
    const next: Array<[string, string | undefined]> = [];
    for (const e of history.events ?? []) {
      await collect(e, codec, parts);
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId) next.push([child.workflowId, child.runId ?? undefined]);
      const cont = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (cont) next.push([wfId, cont]);
    }
    for (const [w, r] of next) await visit(w, r);
  };
  await visit(workflowId, runId);
  const text = parts.join('\n');
  const decoded = [...text.matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)].map((m) => Buffer.from(m[0].replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1'));
  return `${text}\n${decoded.join('\n')}`;
}

function isPayload(v: object): v is Payload {
  return 'data' in v && 'metadata' in v && (v as Payload).data instanceof Uint8Array;
}

async function collect(value: unknown, codec: PayloadCodec, out: string[]): Promise<void> {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') {
    out.push(value);
    return;
  }
  if (value instanceof Uint8Array) {
    out.push(Buffer.from(value).toString('utf8'));
    return;
  }
  if (typeof value !== 'object') return;
  if (isPayload(value)) {
    const encoding = value.metadata?.['encoding'];
    const plain = encoding && Buffer.from(encoding).toString('utf8') === ENCRYPTED_ENCODING ? (await codec.decode([value]))[0]! : value;
    for (const [k, v] of Object.entries(plain.metadata ?? {})) out.push(`${k}=${Buffer.from(v).toString('utf8')}`);
    out.push(Buffer.from(plain.data ?? new Uint8Array()).toString('utf8'));
    return;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) await collect(v, codec, out);
}

/** The member ids of `ids` that occur in `text`. */
export function memberIdsIn(text: string, ids: Iterable<string>): string[] {
  return [...ids].filter((id) => text.includes(id));
}
