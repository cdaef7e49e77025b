import { ArtifactRevision } from '../artifacts/artifact-revision.entity.js';
import { Artifact } from '../artifacts/artifact.entity.js';
import { AccessToken } from '../identity/access-token.entity.js';
import { Member } from '../identity/member.entity.js';
import { Org } from '../identity/org.entity.js';
import { Session } from '../identity/session.entity.js';
import { Team } from '../identity/team.entity.js';
import { ActivePolicy } from '../policy/active-policy.entity.js';
import { PolicyVersion } from '../policy/policy-version.entity.js';
import { RunNode } from '../runs/run-node.entity.js';
import { Run } from '../runs/run.entity.js';
import { Share } from '../sharing/share.entity.js';
import { Skill } from '../skills/skill.entity.js';
import { Tool } from '../skills/tool.entity.js';

/** Every entity the schema holds; migrations/ must match these exactly (CI checks). */
export const ENTITIES = [Org, Team, Member, AccessToken, Session, PolicyVersion, ActivePolicy, Tool, Skill, Run, RunNode, Artifact, ArtifactRevision, Share];
