#!/usr/bin/env node
// The `streamforge` command: registers tsx's ESM loader, then runs the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
await import('../functions/cli/main.ts');
