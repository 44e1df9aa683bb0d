-- AlterTable
ALTER TABLE "Session" ADD COLUMN     "killReason" TEXT,
ADD COLUMN     "killRequestedAt" TIMESTAMP(3),
ADD COLUMN     "killedBy" TEXT;
