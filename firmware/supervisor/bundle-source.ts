// What `sealtap run` needs of the analysis firmware bundle before it knows whether it
// verifies one: the trust directory's default, the refusal's class, what names a
// bundle. The verification itself (firmware-bundle.ts and the bundle modules it loads,
// 15 ms of a start) is loaded only when a bundle is verified: on the box, and with
// --bundle or --medium on a development host.

/**
 * The trust configuration baked into the image: public keys, and trust.json naming the
 * roles that must approve a bundle (trust.ts). Without trust.json any one key approves.
 */
export const trustedKeysDir = '/etc/sealtap/trusted';

export class BundleRefused extends Error {}

/**
 * Where the analysis firmware is read from: a bundle medium (the box's bundleDevice, or a
 * medium image file on a development host), with its A/B slots; or one .sfw file.
 */
export type BundleSource = { medium: string } | { file: string };
