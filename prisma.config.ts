// Prisma CLI configuration. Only `prisma generate` is run here (the binary schema
// engine cannot be downloaded); migrations go through packages/db/src/migrations.ts.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
