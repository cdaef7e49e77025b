import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh bearer secret such as `vtr_pat_…`: 256 random bits, URL-safe. */
export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Tokens are high-entropy, so one SHA-256 is enough to store them safely. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function sameSecretHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
