import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PolicyDeniedError, UnauthenticatedError } from '../common/problem.js';
import { Public } from '../identity/public.decorator.js';
import { Authorize, SelfService } from './authorize.decorator.js';
import { PolicyGuard } from './policy.guard.js';
import type { PolicyService } from './policy.service.js';

class Routes {
  undeclared() {}
  @Public() open() {}
  @SelfService() mine() {}
  @Authorize('delete', 'Team') deleteTeam() {}
}

const asserted: unknown[][] = [];
const policy = {
  assert: async (...args: unknown[]) => {
    asserted.push(args);
    return { allowed: true, ruleId: 'admins-manage-everything', reason: 'Admins manage their org', version: '1' };
  },
} as unknown as PolicyService;
const guard = new PolicyGuard(new Reflector(), policy);
const actor = { type: 'user', id: 'm1', role: 'admin' };

function context(handler: keyof Routes, withActor = true, type = 'http'): ExecutionContext {
  return {
    getType: () => type,
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => (withActor ? { actor, params: { id: 't1' } } : {}) }),
  } as unknown as ExecutionContext;
}

describe('PolicyGuard', () => {
  it('denies a route that declares no access rule, naming no rule', async () => {
    const denied = await guard.canActivate(context('undeclared')).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(PolicyDeniedError);
    expect((denied as PolicyDeniedError).extensions).toEqual({ policy: { version: null, ruleId: null } });
  });

  it('lets public routes through without an actor, and requires one elsewhere', async () => {
    expect(await guard.canActivate(context('open', false))).toBe(true);
    await expect(guard.canActivate(context('mine', false))).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('asks the policy for the declared action and subject', async () => {
    asserted.length = 0;
    expect(await guard.canActivate(context('deleteTeam'))).toBe(true);
    // The route's :id names the resource, for the audit record of a denial.
    expect(asserted).toEqual([[actor, 'delete', 'Team', undefined, 't1']]);
    expect(await guard.canActivate(context('mine'))).toBe(true);
    expect(asserted).toHaveLength(1);
  });

  it('leaves Socket.IO messages to the live gateway, which checks each loaded row', async () => {
    asserted.length = 0;
    expect(await guard.canActivate(context('undeclared', false, 'ws'))).toBe(true);
    expect(asserted).toEqual([]);
  });

  it('keeps a run\'s reporter token out of self-service routes', async () => {
    const reporter = { type: 'agent', id: 'run-1', role: 'reporter' };
    const ctx = { ...context('mine'), switchToHttp: () => ({ getRequest: () => ({ actor: reporter }) }) } as unknown as ExecutionContext;
    await expect(guard.canActivate(ctx)).rejects.toBeInstanceOf(PolicyDeniedError);
  });
});
