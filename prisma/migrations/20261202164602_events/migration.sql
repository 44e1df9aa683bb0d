-- DropIndex
DROP INDEX "WebhookDelivery_subscriptionId_status_idx";

-- AlterTable
ALTER TABLE "WebhookDelivery" DROP COLUMN "payload",
ADD COLUMN     "lastStatus" INTEGER,
ADD COLUMN     "updatedAt" TIMESTAMP(3) NOT NULL,
DROP COLUMN "eventId",
ADD COLUMN     "eventId" UUID NOT NULL;

-- CreateTable
CREATE TABLE "Event" (
    "seq" BIGSERIAL NOT NULL,
    "id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "time" TIMESTAMP(3) NOT NULL,
    "identityId" UUID,
    "connectionId" UUID,
    "sessionId" UUID,
    "envelope" JSONB NOT NULL,
    "dispatchedAt" TIMESTAMP(3),

    CONSTRAINT "Event_pkey" PRIMARY KEY ("seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "Event_id_key" ON "Event"("id");

-- CreateIndex
CREATE INDEX "Event_dispatchedAt_seq_idx" ON "Event"("dispatchedAt", "seq");

-- CreateIndex
CREATE INDEX "Event_type_seq_idx" ON "Event"("type", "seq");

-- CreateIndex
CREATE INDEX "Event_time_idx" ON "Event"("time");

-- CreateIndex
CREATE INDEX "WebhookDelivery_subscriptionId_status_createdAt_idx" ON "WebhookDelivery"("subscriptionId", "status", "createdAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_status_updatedAt_idx" ON "WebhookDelivery"("status", "updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookDelivery_subscriptionId_eventId_key" ON "WebhookDelivery"("subscriptionId", "eventId");

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "Event"("id") ON DELETE CASCADE ON UPDATE CASCADE;
