import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiPublic } from '../common/openapi.decorators.js';

export const IS_PUBLIC_KEY = 'vitrine:public';

/**
 * A route that needs no account (login, health checks, share links): the auth
 * guard lets it through, and the OpenAPI document gives it `security: []`, so
 * what the document says follows from this one mark.
 */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC_KEY, true), ApiPublic());
