import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'vitrine:public';

/** A route that needs no account (login, health checks, share links). */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
