import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Run } from './run.entity.js';
import { Run as RunEntity } from './run.entity.js';

export const NODE_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** One node of a run's DAG and its current state. */
@Entity({ name: 'run_nodes' })
// The stall sweep looks only at running nodes that are not stalled yet. Keyed by run_id, which no
// event changes, so a progress event updates its node in place (see the migration RunNodesHotUpdates).
@Index('ix_run_nodes_running', ['runId'], { where: `"status" = 'running' AND NOT "stalled"` })
export class RunNode {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @PrimaryColumn({ type: 'text' })
  key!: string;

  @ManyToOne(() => RunEntity, (run) => run.nodes, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'run_id', foreignKeyConstraintName: 'fk_run_nodes_run' })
  run?: Run;

  /** Order of the node in the request, so the run reads back as it was created. */
  @Column({ type: 'int' })
  position!: number;

  @Column({ type: 'text' })
  title!: string;

  @Column({ name: 'skill_id', type: 'uuid' })
  skillId!: string;

  /** `name@version`, the exact version resolved when the run was created. */
  @Column({ type: 'text' })
  skill!: string;

  @Column({ name: 'depends_on', type: 'text', array: true })
  dependsOn!: string[];

  @Column({ type: 'text' })
  status!: NodeStatus;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'double precision', nullable: true })
  percent!: number | null;

  @Column({ type: 'text', nullable: true })
  message!: string | null;

  @Column({ type: 'boolean', default: false })
  stalled!: boolean;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true })
  endedAt!: Date | null;

  @Column({ name: 'last_event_at', type: 'timestamptz', nullable: true })
  lastEventAt!: Date | null;

  @Column({ type: 'jsonb', nullable: true })
  output!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  error!: { message: string; code?: string } | null;
}
