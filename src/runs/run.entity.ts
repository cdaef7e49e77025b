import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, OneToMany, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Org } from '../identity/org.entity.js';
import { Team } from '../identity/team.entity.js';
import { RunNode } from './run-node.entity.js';

export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A DAG run: its nodes, its reporter token (hashed) and the last event seq. */
@Entity({ name: 'runs' })
@Index('ix_runs_org', ['orgId', 'id'])
@Index('ix_runs_org_status', ['orgId', 'status', 'id'])
@Index('ix_runs_org_team', ['orgId', 'teamId', 'id'])
@Index('uq_runs_reporter_token', ['reporterTokenHash'], { unique: true })
export class Run {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => Org, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'fk_runs_org' })
  org?: Org;

  @Column({ type: 'text' })
  title!: string;

  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId!: string | null;

  @ManyToOne(() => Team, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'team_id', foreignKeyConstraintName: 'fk_runs_team' })
  team?: Team;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels!: Record<string, string>;

  @Column({ type: 'text' })
  status!: RunStatus;

  @Column({ name: 'stale_after_seconds', type: 'int' })
  staleAfterSeconds!: number;

  @Column({ name: 'last_seq', type: 'bigint', default: 0 })
  lastSeq!: string;

  @Column({ name: 'reporter_token_hash', type: 'bytea' })
  reporterTokenHash!: Buffer;

  /** Null while the run is going; once it ends, the reporter token works until then. */
  @Column({ name: 'reporter_expires_at', type: 'timestamptz', nullable: true })
  reporterExpiresAt!: Date | null;

  @Column({ name: 'created_by', type: 'uuid' })
  createdBy!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true })
  endedAt!: Date | null;

  @OneToMany(() => RunNode, (node) => node.run)
  nodes?: RunNode[];
}
