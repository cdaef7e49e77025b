import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { PolicyVersion } from './policy-version.entity.js';

/** Which version decides for an org right now. */
@Entity({ name: 'active_policies' })
export class ActivePolicy {
  @PrimaryColumn({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @Column({ name: 'version_id', type: 'uuid' })
  versionId!: string;

  @ManyToOne(() => PolicyVersion, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'version_id', foreignKeyConstraintName: 'fk_active_policies_version' })
  policyVersion?: PolicyVersion;

  @Column({ name: 'activated_at', type: 'timestamptz' })
  activatedAt!: Date;

  @Column({ name: 'activated_by', type: 'uuid', nullable: true })
  activatedBy!: string | null;
}
