ALTER TABLE "tenant_domains" ADD COLUMN "verification_token" text;--> statement-breakpoint
-- Domains added before verification existed were all added by the operator, who vouched for them.
UPDATE "tenant_domains" SET "verified_at" = "created_at" WHERE "verified_at" IS NULL;
