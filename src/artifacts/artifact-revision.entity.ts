import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Artifact } from './artifact.entity.js';

export const CONTENT_FORMATS = ['html', 'markdown'] as const;
export type ContentFormat = (typeof CONTENT_FORMATS)[number];

/** One immutable version of an artifact's content. */
@Entity({ name: 'artifact_revisions' })
export class ArtifactRevision {
  @PrimaryColumn({ name: 'artifact_id', type: 'uuid' })
  artifactId!: string;

  @PrimaryColumn({ type: 'int' })
  revision!: number;

  @ManyToOne(() => Artifact, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'artifact_id', foreignKeyConstraintName: 'fk_artifact_revisions_artifact' })
  artifact?: Artifact;

  @Column({ type: 'text' })
  format!: ContentFormat;

  @Column({ type: 'text' })
  body!: string;

  @Column({ type: 'text', nullable: true })
  message!: string | null;

  @Column({ name: 'contains_secrets', type: 'boolean' })
  containsSecrets!: boolean;

  /** What the secret scan found: rule and line, never the value. */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  secrets!: { rule: string; line: number }[];

  /** A member's id, or for a run's reporter token the run's id. */
  @Column({ name: 'created_by', type: 'uuid' })
  createdBy!: string;

  @Column({ name: 'created_by_type', type: 'text' })
  createdByType!: 'user' | 'agent';

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
