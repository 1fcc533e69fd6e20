/**
 * Legacy TarSum ("tarsum v0", v1-api.md §3): no endpoint needs it at HEAD, but it is kept for
 * clients' `X-Docker-Checksum` values. Streams the layer (plain or gzip tar); pure, no I/O.
 *
 * Per member: header string `name<n>mode<m>uid<u>gid<g>size<s>mtime<t>typeflag<c>linkname<l>
 * uname<u>gname<g>devmajor<M>devminor<m>` (numbers in decimal, a directory name ends in one `/`),
 * hashed with the member's bytes. Hex hashes are sorted; the result is
 * `tarsum+sha256:` + sha256(json + sorted hashes joined).
 */
import { readLayerTar } from '../layers/tar.ts';
import type { MemberSink, TarMember } from '../layers/tar.ts';

/**
 * Computes `tarsum+sha256:<hex>`; unreadable layers reject with `RegistryError('LAYER_FORMAT')`.
 */
export async function tarsum(
  json: Uint8Array | string,
  layer: ReadableStream<Uint8Array> | Uint8Array,
): Promise<string> {
  const hashes: string[] = [];
  await readLayerTar(layer, (member): MemberSink => {
    const hasher = new Bun.CryptoHasher('sha256');
    hasher.update(tarsumHeader(member));
    const withBody = member.size > 0 && hasHashedBody(member.typeflag);
    return {
      data: withBody ? (chunk) => hasher.update(chunk) : undefined,
      end: () => hashes.push(hasher.digest('hex')),
    };
  });
  hashes.sort();
  const total = new Bun.CryptoHasher('sha256');
  total.update(json);
  total.update(hashes.join(''));
  return `tarsum+sha256:${total.digest('hex')}`;
}

/**
 * The v0 header string of one member. The typeflag is the stored character (an old-style regular
 * file hashes `'\0'`, as Python's tarfile reports it); pax records other than path, linkpath,
 * size, uid, gid, uname, gname and mtime (e.g. `SCHILY.xattr.*`) do not contribute.
 */
function tarsumHeader(member: TarMember): string {
  let name = member.name;
  // Python's tarfile strips trailing slashes from a pax path, and from directory names.
  if (member.pax?.path !== undefined) name = name.replace(/\/+$/, '');
  if (member.typeflag === '5') name = `${name.replace(/\/+$/, '')}/`;
  return (
    `name${name}mode${member.mode}uid${member.uid}gid${member.gid}size${member.size}` +
    `mtime${member.mtime}typeflag${member.typeflag}linkname${member.linkname}` +
    `uname${member.uname}gname${member.gname}devmajor${member.devmajor}devminor${member.devminor}`
  );
}

/**
 * Whether a member's data bytes are hashed (when its size is > 0). The original hashes what
 * `tarfile.extractfile` returns: the data of regular, contiguous, sparse and unknown-type members;
 * nothing for directories, devices and fifos; for links, the link target's data, which this
 * implementation does not resolve (a link's own header is hashed alone, as the original does when
 * the target is missing).
 */
function hasHashedBody(typeflag: string): boolean {
  return !'123456'.includes(typeflag);
}
