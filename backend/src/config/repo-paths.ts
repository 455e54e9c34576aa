import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The same code runs from backend/src (tests), backend/dist (production) and /app in the image:
// find the repository root by the contract it ships with rather than by a fixed depth.
function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'contracts', 'generate-ai-response.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`contracts/ not found above ${start}`);
    dir = parent;
  }
}

const root = findRoot(dirname(fileURLToPath(import.meta.url)));

export const repoPaths = {
  root,
  contract: join(root, 'contracts', 'generate-ai-response.yaml'),
  realtimeContract: join(root, 'contracts', 'realtime.asyncapi.yaml'),
  prompts: join(root, 'backend', 'prompts'),
  i18n: join(root, 'backend', 'i18n'),
  frontendDist: join(root, 'frontend', 'dist'),
} as const;
