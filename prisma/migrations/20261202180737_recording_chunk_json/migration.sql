-- Recorded events stay as the text the gateway wrote (json, not jsonb): nothing queries inside the
-- array in SQL, and skipping the binary conversion halves what a chunk insert costs Postgres.
-- AlterTable
ALTER TABLE "RecordingChunk" ALTER COLUMN "events" SET DATA TYPE JSON USING "events"::json;

-- Chunks are large and repetitive: lz4 compresses them several times faster than the default
-- pglz. Only where the server was built with it (PGlite may not be).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE "RecordingChunk" ALTER COLUMN "events" SET COMPRESSION lz4;
  END IF;
END
$$;
