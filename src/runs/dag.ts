import { AppError } from '../common/problem.js';

interface DagNode {
  key: string;
  dependsOn?: string[];
}

/**
 * Checks a run's nodes form a DAG: unique keys, known dependencies, no
 * cycle. Errors name the node (and the cycle, e.g. `a -> b -> a`).
 */
export function assertDag(nodes: readonly DagNode[]): void {
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    const first = index.get(node.key);
    if (first !== undefined) {
      throw new AppError(400, 'duplicate_node', 'Duplicate node key', `Node key "${node.key}" is used by nodes[${first}] and nodes[${i}]`, [
        { path: `nodes.${i}.key`, message: `duplicates nodes[${first}].key` },
      ]);
    }
    index.set(node.key, i);
  });
  nodes.forEach((node, i) =>
    (node.dependsOn ?? []).forEach((dep, j) => {
      if (!index.has(dep)) {
        throw new AppError(400, 'unknown_dependency', 'Unknown dependency', `Node "${node.key}" depends on "${dep}", which is not a node of this run`, [
          { path: `nodes.${i}.dependsOn.${j}`, message: `no node "${dep}"` },
        ]);
      }
    }),
  );
  // Iterative depth-first search; the grey path is kept to name the cycle.
  const state = new Map<string, 'grey' | 'black'>();
  for (const root of nodes) {
    if (state.has(root.key)) continue;
    const path: string[] = [];
    const stack: { key: string; next: number }[] = [{ key: root.key, next: 0 }];
    state.set(root.key, 'grey');
    path.push(root.key);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const deps = nodes[index.get(top.key)!]!.dependsOn ?? [];
      if (top.next === deps.length) {
        state.set(top.key, 'black');
        stack.pop();
        path.pop();
        continue;
      }
      const dep = deps[top.next++]!;
      const seen = state.get(dep);
      if (seen === 'grey') {
        const cycle = [...path.slice(path.indexOf(dep)), dep].reverse();
        throw new AppError(400, 'dag_cycle', 'Dependency cycle', `The nodes depend on each other in a cycle: ${cycle.join(' -> ')}`, [
          { path: `nodes.${index.get(dep)}.dependsOn`, message: `cycle ${cycle.join(' -> ')}` },
        ]);
      }
      if (seen === undefined) {
        state.set(dep, 'grey');
        path.push(dep);
        stack.push({ key: dep, next: 0 });
      }
    }
  }
}

/** Every node downstream of `key` (that depends on it, directly or not). */
export function downstreamOf(key: string, nodes: ReadonlyMap<string, { dependsOn: string[] }>): string[] {
  const dependents = new Map<string, string[]>();
  for (const [k, node] of nodes) for (const dep of node.dependsOn) dependents.set(dep, [...(dependents.get(dep) ?? []), k]);
  const out: string[] = [];
  const seen = new Set<string>([key]);
  const queue = [key];
  while (queue.length) {
    for (const next of dependents.get(queue.shift()!) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      out.push(next);
      queue.push(next);
    }
  }
  return out;
}
