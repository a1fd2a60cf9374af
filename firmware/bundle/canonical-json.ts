// Canonical JSON for signed documents: object keys sorted by code unit, no whitespace,
// integers only. A signed manifest must have exactly one byte form, so the box can
// refuse any manifest that is not in it (re-encode and compare) instead of trusting
// whatever a lenient parser accepted. Changing this encoding invalidates every bundle
// already signed.

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    // Floats have several spellings (1e3, 1000.0); integers within 2^53 have one.
    if (!Number.isSafeInteger(value)) throw new Error(`canonical JSON holds only safe integers, got ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    const parts: string[] = [];
    for (const k of keys) {
      if (obj[k] === undefined) throw new Error(`canonical JSON has no undefined values (key ${JSON.stringify(k)})`);
      parts.push(JSON.stringify(k) + ':' + canonicalJson(obj[k]));
    }
    return '{' + parts.join(',') + '}';
  }
  throw new Error(`canonical JSON cannot hold a ${typeof value}`);
}
