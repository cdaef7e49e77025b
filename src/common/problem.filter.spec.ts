import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { QueryFailedError } from 'typeorm';
import type { ArgumentsHost } from '@nestjs/common';
import { PolicyDeniedError } from './problem.js';
import { ProblemFilter, toProblem } from './problem.filter.js';

const request = { id: 'req-1', method: 'GET', path: '/x' } as unknown as Request;

describe('toProblem', () => {
  it('turns an unexpected error into a 500 that says nothing of its internals', () => {
    const error = new Error('password=hunter2 at /srv/app.ts:12');
    const { document, unexpected } = toProblem(error, request);
    expect(unexpected).toBe(true);
    expect(document).toEqual(expect.objectContaining({ status: 500, code: 'internal_error', requestId: 'req-1' }));
    expect(JSON.stringify(document)).not.toMatch(/hunter2|app\.ts|stack/);
  });

  it('maps a foreign-key violation to 409 conflict without naming the constraint', () => {
    const error = new QueryFailedError('INSERT …', [], Object.assign(new Error('fk'), { code: '23503', constraint: 'fk_member_teams_team' }));
    const { document, unexpected } = toProblem(error, request);
    expect(unexpected).toBe(false);
    expect(document).toEqual(expect.objectContaining({ status: 409, code: 'conflict' }));
    expect(JSON.stringify(document)).not.toContain('fk_member_teams_team');
  });

  it('maps a unique violation to a readable 409', () => {
    const error = new QueryFailedError('INSERT …', [], Object.assign(new Error('dup'), { code: '23505', constraint: 'uq_teams_org_name' }));
    expect(toProblem(error, request).document).toEqual(expect.objectContaining({ status: 409, detail: 'A team with this name already exists in the org' }));
  });

  it('treats other database errors as unexpected', () => {
    const error = new QueryFailedError('SELECT …', [], Object.assign(new Error('boom'), { code: '57014' }));
    expect(toProblem(error, request)).toEqual(expect.objectContaining({ unexpected: true, document: expect.objectContaining({ status: 500 }) }));
  });
});

describe('ProblemFilter', () => {
  /** A host whose response records what was sent, and a promise that settles when it is. */
  function host() {
    let sent!: (value: { status: number; body: Record<string, unknown> }) => void;
    const answered = new Promise<{ status: number; body: Record<string, unknown> }>((resolve) => (sent = resolve));
    let status = 0;
    const response = {
      headersSent: false,
      setHeader: () => undefined,
      status: (s: number) => ((status = s), response),
      type: () => response,
      send: (text: string) => sent({ status, body: JSON.parse(text) as Record<string, unknown> }),
    };
    const http = { getRequest: () => request, getResponse: () => response };
    return { host: { getType: () => 'http', switchToHttp: () => http } as unknown as ArgumentsHost, answered };
  }
  const denial = () => new PolicyDeniedError('not yours', { version: '1', ruleId: 'r' });

  it('answers a denial only once what it owes is done', async () => {
    const order: string[] = [];
    const { host: h, answered } = host();
    new ProblemFilter(() => new Promise<void>((resolve) => setTimeout(() => (order.push('audited'), resolve()), 20))).catch(denial(), h);
    const answer = await answered;
    order.push('answered');
    expect(order).toEqual(['audited', 'answered']);
    expect(answer).toEqual({ status: 403, body: expect.objectContaining({ code: 'policy_denied' }) });
  });

  it('answers with the failure of what was owed when it fails (the audit could not be appended)', async () => {
    const { host: h, answered } = host();
    const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    new ProblemFilter(() => Promise.reject(unreachable)).catch(denial(), h);
    expect(await answered).toEqual({ status: 503, body: expect.objectContaining({ code: 'unavailable' }) });
  });
});
