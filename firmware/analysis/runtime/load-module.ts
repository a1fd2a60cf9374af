// Loads a researcher's module inside its sandbox. The sandbox (jail/, seccomp, its own
// namespaces and uid) is the boundary; this loader is the second layer, so a module
// meets a clear refusal instead of an EPERM from deep inside Node:
// - require() gives the SDK under a fixed name, the module's own files (inside its
//   folder only) and a few builtins that reach nothing outside the process;
// - import() is refused: the module's code is compiled with a dynamic-import hook
//   that throws, and the process runs with code generation from strings disabled, so
//   eval and new Function cannot compile code without that hook;
// - process.mainModule (a way back to Node's own require) is taken away.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import type { ModuleFactory } from '../sdk';

export const sdkModuleName = 'sealtap/sdk';

/** Builtins a module may require: none of them opens a file, a socket or a process. */
const allowedBuiltins = new Set(['assert', 'buffer', 'events', 'path', 'querystring', 'string_decoder', 'url', 'util']);

export class RefusedModuleError extends Error {
  readonly code = 'ERR_ACCESS_DENIED';
}

function refuseImport(specifier: string): never {
  throw new RefusedModuleError(`analysis modules may not use import() ("${specifier}"): use require() for the SDK and the module's own files`);
}

const wrapperParams = ['exports', 'require', 'module', '__filename', '__dirname'];

/** Loads `file` (and what it requires from its own folder) and returns its factory. */
export function loadModuleFile(file: string, sdk: object): ModuleFactory {
  const root = path.dirname(path.resolve(file)) + path.sep;
  const cache = new Map<string, { exports: unknown }>();
  (process as { mainModule?: unknown }).mainModule = undefined;

  const load = (abs: string): unknown => {
    const hit = cache.get(abs);
    if (hit) return hit.exports;
    const mod = { exports: {} as unknown };
    cache.set(abs, mod);
    const source = fs.readFileSync(abs, 'utf8');
    if (abs.endsWith('.json')) {
      mod.exports = JSON.parse(source);
      return mod.exports;
    }
    const fn = vm.compileFunction(source, wrapperParams, { filename: abs, importModuleDynamically: refuseImport as never });
    fn.call(mod.exports, mod.exports, makeRequire(path.dirname(abs)), mod, abs, path.dirname(abs));
    return mod.exports;
  };

  const makeRequire = (dir: string) => (request: string): unknown => {
    if (request === sdkModuleName) return sdk;
    const bare = request.startsWith('node:') ? request.slice(5) : request;
    if (allowedBuiltins.has(bare)) return require(bare);
    if (request.startsWith('./') || request.startsWith('../')) {
      let abs = path.resolve(dir, request);
      if (!abs.startsWith(root)) throw new RefusedModuleError(`analysis modules may only load files from their own folder, not "${request}"`);
      if (!fs.existsSync(abs) && fs.existsSync(abs + '.js')) abs += '.js';
      return load(abs);
    }
    throw new RefusedModuleError(`analysis modules may not load "${request}": the module's process has no network, no files and no processes; emit records of a declared stream instead`);
  };

  const exported = load(path.resolve(file)) as ModuleFactory | { default?: ModuleFactory };
  const factory = typeof exported === 'function' ? exported : exported?.default;
  if (typeof factory !== 'function') {
    throw new Error(`analysis module ${path.basename(file)} must export a function made with defineModule(ctx => ({ name, onPacket }))`);
  }
  return factory;
}
