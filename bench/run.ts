/** `bun run bench`: every benchmark scenario in turn. */
const scenarios = [['upload-memory.ts', process.env.BENCH_LAYER_MIB ?? '1024'], ['put-cpu.ts'], ['reload.ts'], ['compare.ts'], ['skopeo-floor.ts'], ['scale-out.ts'], ['stream-length.ts'], ['gc.ts']];
for (const [file, ...args] of scenarios) {
  console.log(`\n## ${file} ${args.join(' ')}`);
  const p = Bun.spawn([process.execPath, `${import.meta.dir}/${file}`, ...args], { stdout: 'inherit', stderr: 'inherit' });
  if ((await p.exited) !== 0) process.exit(1);
}
