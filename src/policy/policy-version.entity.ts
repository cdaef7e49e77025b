import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Org } from '../identity/org.entity.js';

/** An immutable policy bundle version of one org. */
@Entity({ name: 'policy_versions' })
@Index('uq_policy_versions_org_version', ['orgId', 'version'], { unique: true })
export class PolicyVersion {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => Org, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'fk_policy_versions_org' })
  org?: Org;

  /** 1, 2, 3 … per org. */
  @Column({ type: 'int' })
  version!: number;

  /** SHA-256 (hex) of `source`. */
  @Column({ type: 'text' })
  hash!: string;

  @Column({ type: 'text' })
  source!: string;

  @Column({ name: 'parent_version', type: 'int', nullable: true })
  parentVersion!: number | null;

  /** Null for the default bundle Vitrine loaded itself. */
  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
