/**
 * Entry point: `bun src/main.ts` loads the configuration, migrates the database and serves.
 * (One process for now; the supervisor with REGISTRY_WORKERS workers is a separate piece.)
 */
import { ConfigError, loadConfig } from './config/load.ts';
import { startServer } from './worker/serve.ts';

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`registry: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const running = startServer(config);
  console.error(
    `registry: listening on http://${config.host}:${running.server.port} (storage ${config.storage} at ${config.storage_path})`,
  );
  const stop = async (signal: string) => {
    console.error(`registry: ${signal} received, finishing in-flight requests`);
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main();
