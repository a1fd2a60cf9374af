// Loaded for its side effect before any module asks for sodium-native (by cli/main.ts
// before it loads a command, by analysis/child.ts first): sodium-native's compiled
// binding is found by file name, not by require-addon.
//
// sodium-native's binding.js asks require-addon for the addon, a resolver written for
// every runtime and every platform's package layout: its first call ran 10-11 ms of
// JavaScript (bare-addon-resolve, bare-module-resolve) in every process that needs
// libsodium, the supervisor before it forks the analysis, the analysis and the receiver,
// where loading the file it finds takes under 1 ms (docs/benchmarks.md, end to end).
// The pinned package keeps its binding at prebuilds/<platform>-<arch>/sodium-native.node;
// when that file is there, binding.js's module is put in require's cache with it as its
// exports, and index.js's require('./binding') gets it from there. Any other case (no
// such file, or a musl system, whose builds require-addon tells apart by
// /etc/alpine-release) is left to require-addon, as is any failure to load the file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Module = require('node:module');

/** What was done: the binding's file when it was loaded by name, else null (require-addon finds it). */
export const sodiumBindingFile: string | null = preload();

function preload(): string | null {
  let dir: string;
  try {
    dir = path.dirname(require.resolve('sodium-native'));
  } catch {
    return null;
  }
  const bindingJs = path.join(dir, 'binding.js');
  if (require.cache[bindingJs] !== undefined) return null; // loaded already
  const file = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'sodium-native.node');
  if (!fs.existsSync(file) || fs.existsSync('/etc/alpine-release')) return null;
  const m = new Module(bindingJs, module);
  m.filename = bindingJs;
  m.paths = [];
  try {
    process.dlopen(m, file);
  } catch {
    return null;
  }
  m.loaded = true;
  require.cache[bindingJs] = m;
  return file;
}
