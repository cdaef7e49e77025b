import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Org } from '../identity/org.entity.js';
import { Team } from '../identity/team.entity.js';
import { Run } from '../runs/run.entity.js';

export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** Lowering a classification (to an earlier one in CLASSIFICATIONS) is the policy action `declassify`. */
export function isDeclassification(from: Classification, to: Classification): boolean {
  return CLASSIFICATIONS.indexOf(to) < CLASSIFICATIONS.indexOf(from);
}

/**
 * A human-readable page an agent or a person keeps current. Its content lives
 * in immutable revisions (`artifact_revisions`); this row holds the latest
 * revision's number and whether that revision contains secrets.
 */
@Entity({ name: 'artifacts' })
@Index('ix_artifacts_org', ['orgId', 'id'])
@Index('ix_artifacts_org_run', ['orgId', 'runId'])
@Index('ix_artifacts_org_team', ['orgId', 'teamId', 'id'])
@Index('ix_artifacts_remixed_from', ['remixedFromId'], { where: '"remixed_from_id" IS NOT NULL' })
export class Artifact {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => Org, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'fk_artifacts_org' })
  org?: Org;

  @Column({ type: 'text' })
  title!: string;

  @Column({ type: 'text' })
  kind!: string;

  @Column({ name: 'run_id', type: 'uuid', nullable: true })
  runId!: string | null;

  @ManyToOne(() => Run, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'run_id', foreignKeyConstraintName: 'fk_artifacts_run' })
  run?: Run;

  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId!: string | null;

  @ManyToOne(() => Team, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'team_id', foreignKeyConstraintName: 'fk_artifacts_team' })
  team?: Team;

  @Column({ type: 'text' })
  classification!: Classification;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  labels!: string[];

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId!: string;

  /** A remix is private: only its owner, and whom policy lets manage the org's artifacts, see it. */
  @Column({ type: 'boolean', default: false })
  private!: boolean;

  /** The latest revision; 0 for a `run-summary`, which has no stored content. */
  @Column({ type: 'int' })
  revision!: number;

  @Column({ name: 'contains_secrets', type: 'boolean', default: false })
  containsSecrets!: boolean;

  /** The artifact this one was remixed from; it may be in another org (remixed through a link), so no foreign key. */
  @Column({ name: 'remixed_from_id', type: 'uuid', nullable: true })
  remixedFromId!: string | null;

  @Column({ name: 'remixed_from_revision', type: 'int', nullable: true })
  remixedFromRevision!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** An artifact's own columns, as written (the database stamps the times). */
export type ArtifactFields = Omit<Artifact, 'createdAt' | 'updatedAt' | 'org' | 'run' | 'team'>;
