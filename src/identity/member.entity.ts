import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  JoinTable,
  ManyToMany,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Org } from './org.entity.js';
import { Team } from './team.entity.js';

export const ROLES = ['admin', 'member', 'auditor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

@Entity({ name: 'members' })
// Email identifies a login across the installation; a deactivated member frees it.
@Index('uq_members_email_active', ['email'], { unique: true, where: 'deactivated_at IS NULL' })
@Index('ix_members_org', ['orgId', 'id'])
export class Member {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => Org, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'fk_members_org' })
  org?: Org;

  /** Stored lower-cased. */
  @Column({ type: 'text' })
  email!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  role!: Role;

  @Column({ name: 'password_hash', type: 'text' })
  passwordHash!: string;

  /** May create orgs; the first admin of the installation. */
  @Column({ name: 'installation_admin', type: 'boolean', default: false })
  installationAdmin!: boolean;

  @Column({ name: 'deactivated_at', type: 'timestamptz', nullable: true })
  deactivatedAt!: Date | null;

  @ManyToMany(() => Team)
  @JoinTable({
    name: 'member_teams',
    joinColumn: { name: 'member_id', referencedColumnName: 'id', foreignKeyConstraintName: 'fk_member_teams_member' },
    inverseJoinColumn: { name: 'team_id', referencedColumnName: 'id', foreignKeyConstraintName: 'fk_member_teams_team' },
  })
  teams?: Team[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
