-- AlterTable
ALTER TABLE "Connection" ADD COLUMN     "targetRole" JSONB,
ADD COLUMN     "targetRoleAt" TIMESTAMP(3);
