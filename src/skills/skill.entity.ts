import { Column, CreateDateColumn, Entity, Index, JoinColumn, JoinTable, ManyToMany, ManyToOne, PrimaryColumn } from 'typeorm';
import { Org } from '../identity/org.entity.js';
import { Tool } from './tool.entity.js';

/** One immutable version of a skill: name + semver, the tools it uses. */
@Entity({ name: 'skills' })
@Index('uq_skills_org_name_version', ['orgId', 'name', 'version'], { unique: true })
export class Skill {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'org_id', type: 'uuid' })
  orgId!: string;

  @ManyToOne(() => Org, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id', foreignKeyConstraintName: 'fk_skills_org' })
  org?: Org;

  @Column({ type: 'text' })
  name!: string;

  /** Semver, as given (normalised by `semver`). */
  @Column({ type: 'text' })
  version!: string;

  @Column({ type: 'text' })
  description!: string;

  @Column({ name: 'input_schema', type: 'jsonb', nullable: true })
  inputSchema!: Record<string, unknown> | null;

  @ManyToMany(() => Tool)
  @JoinTable({
    name: 'skill_tools',
    joinColumn: { name: 'skill_id', referencedColumnName: 'id', foreignKeyConstraintName: 'fk_skill_tools_skill' },
    inverseJoinColumn: { name: 'tool_id', referencedColumnName: 'id', foreignKeyConstraintName: 'fk_skill_tools_tool' },
  })
  tools?: Tool[];

  @Column({ name: 'created_by', type: 'uuid' })
  createdBy!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
