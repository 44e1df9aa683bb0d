-- DropForeignKey
ALTER TABLE "RecordingEvent" DROP CONSTRAINT "RecordingEvent_sessionId_fkey";

-- AlterTable
ALTER TABLE "Session" ADD COLUMN     "eventCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "sealedSeq" INTEGER;

-- DropTable
DROP TABLE "RecordingEvent";

-- CreateTable
CREATE TABLE "RecordingChunk" (
    "id" BIGSERIAL NOT NULL,
    "sessionId" UUID NOT NULL,
    "firstSeq" INTEGER NOT NULL,
    "lastSeq" INTEGER NOT NULL,
    "firstAt" TIMESTAMP(3) NOT NULL,
    "lastAt" TIMESTAMP(3) NOT NULL,
    "events" JSONB NOT NULL,
    "searchText" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "RecordingChunk_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RecordingKey" (
    "id" TEXT NOT NULL,
    "publicKey" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RecordingKey_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "RecordingChunk_sessionId_firstSeq_key" ON "RecordingChunk"("sessionId", "firstSeq");

-- AddForeignKey
ALTER TABLE "RecordingChunk" ADD CONSTRAINT "RecordingChunk_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Hand-written (Prisma's schema language cannot express these, see packages/db/src/migrations.ts
-- HAND_WRITTEN_OBJECTS, which keeps later generated migrations from dropping them).

-- Recorded events are immutable. The retention purge is the one deletion path: it
-- runs `SET LOCAL warden.retention_purge = 'on'` inside its transaction.
CREATE FUNCTION warden_recording_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('warden.retention_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'recorded events are immutable: % on "RecordingChunk" refused', TG_OP
    USING ERRCODE = '42501', HINT = 'only the retention purge may delete recorded events';
END;
$$;

CREATE TRIGGER "RecordingChunk_immutable"
  BEFORE UPDATE OR DELETE ON "RecordingChunk"
  FOR EACH ROW EXECUTE FUNCTION warden_recording_immutable();

CREATE TRIGGER "RecordingChunk_no_truncate"
  BEFORE TRUNCATE ON "RecordingChunk"
  FOR EACH STATEMENT EXECUTE FUNCTION warden_recording_immutable();

-- A session's seal is written once: afterwards its hash, signature and key cannot change.
CREATE FUNCTION warden_session_seal_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD."finalHash" IS NOT NULL AND (
       NEW."finalHash" IS DISTINCT FROM OLD."finalHash"
    OR NEW."signature" IS DISTINCT FROM OLD."signature"
    OR NEW."signingKeyId" IS DISTINCT FROM OLD."signingKeyId"
    OR NEW."sealedSeq" IS DISTINCT FROM OLD."sealedSeq") THEN
    RAISE EXCEPTION 'the seal of session % is already written', OLD.id USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER "Session_seal_once"
  BEFORE UPDATE ON "Session"
  FOR EACH ROW EXECUTE FUNCTION warden_session_seal_once();

-- Full-text search over what sessions ran (GET /api/sessions?q=...): each chunk
-- carries its de-duplicated statement texts.
CREATE INDEX "RecordingChunk_search_idx" ON "RecordingChunk"
  USING gin (to_tsvector('simple', "searchText"));
