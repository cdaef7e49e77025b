import { SetMetadata } from '@nestjs/common';
import type { Action, Subject } from './policy.types.js';

export const AUTHORIZE_KEY = 'vitrine:authorize';

export type AuthorizeMetadata = { action: Action; subject: Subject } | { self: true };

/** The action a route performs on a subject type; the policy guard decides it. */
export const Authorize = (action: Action, subject: Subject) => SetMetadata(AUTHORIZE_KEY, { action, subject } satisfies AuthorizeMetadata);

/**
 * A route that only touches the caller's own identity (their profile, their
 * tokens): any authenticated caller may use it.
 */
export const SelfService = () => SetMetadata(AUTHORIZE_KEY, { self: true } satisfies AuthorizeMetadata);
