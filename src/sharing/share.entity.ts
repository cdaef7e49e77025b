import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Artifact } from '../artifacts/artifact.entity.js';
import { Org } from '../identity/org.entity.js';

export const AUDIENCES = ['link', 'org', 'team'] as const;
export type Audience = (typeof AUDIENCES)[number];

/** A share of an artifact: a link token (stored hashed), its audience, expiry and pinned revision. */
@Entity({ name: 'shares' })
@Index('ix_shares_org_artifact', ['orgId', 'artifactId', 'id'])
@Index('uq_shares_token', ['tokenHash'], { unique: true })
// Whether an artifact is published by link now: its unrevoked shares.
@Index('ix_shares_artifact_unrevoked', ['artifactId'], { where: '"revoked_at" IS NULL' })
export class Share {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => Org, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'fk_shares_org' })
  org?: Org;

  @Column({ name: 'artifact_id', type: 'uuid' })
  artifactId!: string;

  @ManyToOne(() => Artifact, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'artifact_id', foreignKeyConstraintName: 'fk_shares_artifact' })
  artifact?: Artifact;

  @Column({ type: 'text' })
  audience!: Audience;

  /** The audience team, for `team` shares: the artifact's team when shared. */
  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId!: string | null;

  /** Null: the link follows the live artifact. */
  @Column({ type: 'int', nullable: true })
  revision!: number | null;

  /** What was asked for, kept so a draft bundle can be checked against the same request (dry run). */
  @Column({ name: 'expires_in_seconds', type: 'int', nullable: true })
  expiresInSeconds!: number | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'token_hash', type: 'bytea' })
  tokenHash!: Buffer;

  @Column({ name: 'created_by', type: 'uuid' })
  createdBy!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_by', type: 'uuid', nullable: true })
  revokedBy!: string | null;

  /** Set when policy revoked it (revokedBy null): the rule that denies it now, and why. */
  @Column({ name: 'revoked_reason', type: 'text', nullable: true })
  revokedReason!: string | null;
}
