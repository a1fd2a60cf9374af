// What a module's require() may load inside the analysis process. Node 20's permission
// model refuses file writes, child processes and workers, but not the network, so the
// network modules are refused here before any module is loaded (on the box the process
// also sits in an empty network namespace, see sandbox.ts). Also gives modules the SDK
// under a fixed name, so a module file works wherever its bundle is unpacked:
//   const { defineModule } = require('sealtap/sdk');
import Module = require('node:module');
import * as sdk from './sdk';

export const sdkModuleName = 'sealtap/sdk';

const refused = new Set([
  'net', 'dgram', 'http', 'https', 'http2', 'tls', 'dns', 'dns/promises', 'undici',
  'child_process', 'cluster', 'worker_threads', 'inspector', 'inspector/promises', 'repl', 'wasi',
]);

export class RefusedModuleError extends Error {
  readonly code = 'ERR_ACCESS_DENIED';
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;

/** Installs the guard; from then on every require() in this process passes through it. */
export function guardModuleLoading(): void {
  const m = Module as unknown as { _load: Load };
  const load = m._load;
  m._load = function guardedLoad(request: string, parent: unknown, isMain: boolean): unknown {
    if (request === sdkModuleName) return sdk;
    const bare = request.startsWith('node:') ? request.slice(5) : request;
    if (refused.has(bare)) {
      throw new RefusedModuleError(`analysis modules may not load "${request}": the analysis process has no network and no processes; emit records instead`);
    }
    return load.call(this, request, parent, isMain);
  };
  // Network without require(): Node 20 has fetch and friends as globals.
  const g = globalThis as Record<string, unknown>;
  for (const name of ['fetch', 'WebSocket', 'EventSource', 'Request', 'Response', 'Headers', 'FormData']) delete g[name];
}
