// The run's anonymization policy: the built-in default or a file, validated before any
// key exists. The validated object is what the analysis process receives.
import { defaultPolicy, loadPolicy, Policy } from '../anonymize/policy';

export function loadRunPolicy(where: string): Policy {
  return where === 'default' ? defaultPolicy() : loadPolicy(where);
}
