// The capture addon (batch-binding.ts), loaded at its first use rather than when a
// module that may use it is loaded: a program that never captures, seals, frames or
// decodes a frame (the receiver before its first frame, `sealtap bundle`) never loads
// the native code or the libraries it links.
import type { BatchBinding } from './batch-binding';

let binding: BatchBinding | null = null;

export function addon(): BatchBinding {
  if (binding === null) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = (require('./batch-binding') as typeof import('./batch-binding')).batchBinding;
  }
  return binding;
}
