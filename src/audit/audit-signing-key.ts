import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The Ed25519 key that signs audit checkpoints, and how others check them. */
export class AuditSigningKey {
  readonly publicKeyPem: string;
  readonly keyId: string;

  private constructor(private readonly privateKey: KeyObject) {
    const publicKey = createPublicKey(privateKey);
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = keyIdOf(publicKey);
  }

  /** Reads the key file; creates it (mode 0600) when it does not exist yet. */
  static loadOrCreate(file: string): AuditSigningKey {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(path.dirname(file), { recursive: true });
      const generated = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      try {
        // `wx`: when several processes start at once, the first one's key wins.
        writeFileSync(file, generated, { flag: 'wx', mode: 0o600 });
        pem = generated;
      } catch (raced) {
        if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
        pem = readFileSync(file, 'utf8');
      }
    }
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType} key; audit checkpoints need an Ed25519 key`);
    return new AuditSigningKey(key);
  }

  sign(message: string): Buffer {
    return sign(null, Buffer.from(message, 'utf8'), this.privateKey);
  }

  /**
   * A 256-bit secret for another use (HKDF-SHA256, `purpose` as its info), so
   * the one key file every instance shares keys that use too, and a secret so
   * derived says nothing of this key or of another purpose's.
   */
  deriveSecret(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.privateKey.export({ type: 'pkcs8', format: 'der' }), Buffer.alloc(0), purpose, 32));
  }
}

/** A short, stable name for a public key: the first 16 hex digits of SHA-256 over its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function verifySignature(publicKey: KeyObject, message: string, signature: Buffer): boolean {
  return verify(null, Buffer.from(message, 'utf8'), publicKey, signature);
}
