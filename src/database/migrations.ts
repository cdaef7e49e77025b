import { Init1795556137902 } from '../../migrations/1795556137902-init.js';
import { PolicyVersions1795557052384 } from '../../migrations/1795557052384-policy-versions.js';
import { AuditLog1795559000000 } from '../../migrations/1795559000000-audit-log.js';
import { ArtifactsAndShares1795566057534 } from '../../migrations/1795566057534-artifacts-and-shares.js';
import { SkillsAndRuns1795560498317 } from '../../migrations/1795560498317-skills-and-runs.js';
import { IngestWrite1795570000000 } from '../../migrations/1795570000000-ingest-write.js';
import { IngestWriteGenericPlan1795580000000 } from '../../migrations/1795580000000-ingest-write-generic-plan.js';
import { RunNodesHotUpdates1795590000000 } from '../../migrations/1795590000000-run-nodes-hot-updates.js';
import { ShareRevokedReason1795600000000 } from '../../migrations/1795600000000-share-revoked-reason.js';
import { SignInFailures1795604112000 } from '../../migrations/1795604112000-sign-in-failures.js';
import { SocketIoAttachments1795610000000 } from '../../migrations/1795610000000-socket-io-attachments.js';

/**
 * The migrations, in order. `npm run migration:generate -- <name>` writes a
 * file to migrations/; add its class here (a test fails while one is missing).
 */
export const MIGRATIONS: Function[] = [Init1795556137902, PolicyVersions1795557052384, AuditLog1795559000000, SkillsAndRuns1795560498317, ArtifactsAndShares1795566057534, IngestWrite1795570000000, IngestWriteGenericPlan1795580000000, RunNodesHotUpdates1795590000000, ShareRevokedReason1795600000000, SignInFailures1795604112000, SocketIoAttachments1795610000000];
