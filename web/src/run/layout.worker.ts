/// <reference lib="webworker" />
import ELK from 'elkjs/lib/elk.bundled.js';
import { elkGraph, type LayoutAnswer, type LayoutRequest, type Positions } from './layout';

const elk = new ELK();
const scope = self as unknown as DedicatedWorkerGlobalScope;

// Set after the import: elk.bundled.js claims `self.onmessage` for itself when loaded in a worker,
// and this worker answers the page, not ELK's own protocol (it runs ELK in-thread here).
scope.onmessage = async (message: MessageEvent<LayoutRequest>) => {
  const { runId, nodes } = message.data;
  let answer: LayoutAnswer;
  try {
    const laid = await elk.layout(elkGraph(nodes));
    const positions: Positions = {};
    for (const child of laid.children ?? []) positions[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
    answer = { runId, positions };
  } catch (error) {
    answer = { runId, error: error instanceof Error ? error.message : String(error) };
  }
  scope.postMessage(answer);
};
