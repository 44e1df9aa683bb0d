#!/usr/bin/env node
// The CLI is TypeScript run through tsx like the rest of the monorepo (tsx comes from
// the workspace root); this shim lets the installed `warden` bin work without
// `node --import tsx`.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
