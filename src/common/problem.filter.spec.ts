import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { QueryFailedError } from 'typeorm';
import { toProblem } from './problem.filter.js';

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
