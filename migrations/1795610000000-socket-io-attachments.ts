import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The table @socket.io/postgres-adapter keeps messages in that are too large
 * for a NOTIFY payload (8000 bytes) or carry binary data; its name and
 * columns are the library's, which never creates it and deletes rows older
 * than its cleanup interval. UNLOGGED: a message lives seconds, and a crash
 * that empties the table loses only messages whose sockets are gone too.
 */
export class SocketIoAttachments1795610000000 implements MigrationInterface {
  name = 'SocketIoAttachments1795610000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE UNLOGGED TABLE "socket_io_attachments" ("id" bigserial UNIQUE, "created_at" timestamptz DEFAULT now(), "payload" bytea)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "socket_io_attachments"`);
  }
}
